package io.relay365;

import io.relay365.admin.AdminServer;
import io.relay365.admin.MailLog;
import io.relay365.admin.Metrics;
import io.relay365.admin.StatusBoard;
import io.relay365.config.Settings;
import io.relay365.deliver.MailboxResolver;
import io.relay365.deliver.MsalTokenSource;
import io.relay365.deliver.QueueRunner;
import io.relay365.deliver.TokenCache;
import io.relay365.deliver.Transport;
import io.relay365.deliver.Transports;
import io.relay365.receive.SmtpListener;
import io.relay365.store.Admission;
import io.relay365.store.Spool;
import io.relay365.store.SpoolLock;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running relay: receive (SMTP listener) → store (spool) → deliver (queue runner + transport).
 * The three parts meet at two seams only: the listener hands each committed envelope to the runner,
 * and the runner hands each message to the {@link Transport}.
 */
public final class Relay {
  private static final Logger log = LoggerFactory.getLogger(Relay.class);

  private final Vertx vertx;
  private final Settings settings;
  private final Spool spool;
  private final SpoolLock lock;
  private final MailEvents events;
  private final MsalTokenSource tokenSource;
  private final TokenCache tokens;
  private final Transport transport;
  private final QueueRunner runner;
  private final SmtpListener listener;
  // operators' tools (issue 5): observers of MailEvents and the admin HTTP listener
  private final StatusBoard board;
  private final Metrics metrics;
  private final AdminServer admin;

  /** How long a stop lets SMTP transactions in progress finish (systemd's TimeoutStopSec is 90 s). */
  static final Duration SMTP_DRAIN = Duration.ofSeconds(30);

  private Relay(Vertx vertx, Settings settings, MailEvents extra) throws Exception {
    this.vertx = vertx;
    this.settings = settings;
    // The daemon is the only writer of queue/ while it runs (the queue tool then only leaves requests).
    // Lock first: opening the spool deletes entries being received, which would break another daemon's transactions.
    java.nio.file.Path dir = settings.spool().dir();
    if (!java.nio.file.Files.isDirectory(dir)) {
      try {
        java.nio.file.Files.createDirectories(dir, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
            java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
      } catch (java.io.IOException e) {
        // the same explanation Spool.open gives: name the directory and what it must be
        throw new java.io.IOException("Spool directory " + dir + " is not usable (must be a writable directory): "
            + e, e);
      }
    }
    this.lock = SpoolLock.tryAcquire(dir).orElseThrow(() -> new java.io.IOException(
        "spool " + dir + " is in use by another relay365 (" + dir.resolve("relay365.lock") + " is locked)"));
    try {
      this.spool = Spool.open(dir);
      this.tokenSource = new MsalTokenSource(settings.microsoft());
      this.tokens = new TokenCache(tokenSource, Clock.systemUTC());
      this.board = new StatusBoard();
      this.metrics = new Metrics(spool, tokens, board, Clock.systemUTC());
      this.events = MailEvents.all(List.of(metrics, board, new MailLog(), extra));
      this.transport = Transports.create(vertx, settings, tokens);
      this.runner = new QueueRunner(vertx, spool, transport, new MailboxResolver(settings.sender()),
          settings.delivery(), events, settings.smtp().hostname(), Clock.systemUTC());
      this.runner.onRetryAll(tokens::invalidateAll);
      this.listener = new SmtpListener(settings.smtp(), spool, env -> {
        events.accepted(env);
        runner.submit(env);
      }, Admission.of(spool, settings.spool().maxMessages(), settings.spool().minFreeDisk()));
      this.admin = settings.admin().enabled()
          ? new AdminServer(vertx, settings.admin(), spool, tokens, board, metrics, Clock.systemUTC()) : null;
    } catch (Exception | Error e) {
      lock.close();
      throw e;
    }
  }

  /**
   * Opens the spool, starts delivering what is already in it, then opens the SMTP port. Fails (and
   * releases everything it opened) if the spool or the port cannot be used.
   *
   * @param events told of everything that happens to mail (metrics, status, alerts); never null
   */
  public static Future<Relay> start(Vertx vertx, Settings settings) {
    return start(vertx, settings, MailEvents.NONE);
  }

  /** As {@link #start(Vertx, Settings)}, with one more observer of the mail events (tests, extensions). */
  public static Future<Relay> start(Vertx vertx, Settings settings, MailEvents extra) {
    return vertx.executeBlocking(() -> new Relay(vertx, settings, extra), false)
        .compose(r -> r.runner.start()
            .compose(v -> r.admin == null ? Future.succeededFuture() : r.admin.start())
            .compose(v -> vertx.executeBlocking(() -> {
              r.listener.start();
              return r;
            }, false))
            .onFailure(e -> {
              if (r.admin != null) {
                r.admin.stop();
              }
              r.closeTransport();
            }));
  }

  public int smtpPort() {
    return listener.port();
  }

  public Spool spool() {
    return spool;
  }

  public TokenCache tokens() {
    return tokens;
  }

  /** Port of the admin HTTP listener, or -1 if admin.listen is off. */
  public int adminPort() {
    return admin == null ? -1 : admin.port();
  }

  public StatusBoard status() {
    return board;
  }

  public MailEvents events() {
    return events;
  }

  /**
   * Stops in the order that loses nothing: new MAIL FROM gets 421, SMTP transactions in progress get
   * {@link #SMTP_DRAIN} to finish, the port closes, deliveries in flight finish, then the transport is
   * released. Whatever is still spooled is delivered at the next start.
   */
  public Future<Void> stop() {
    return vertx.executeBlocking(() -> {
      listener.close(SMTP_DRAIN);
      return null;
    }, false)
        .compose(v -> runner.stop(Duration.ofSeconds(30)))
        .compose(v -> admin == null ? Future.<Void>succeededFuture() : admin.stop().otherwiseEmpty())
        .eventually(() -> {
          closeTransport();
          log.info("relay stopped; {} message(s) remain spooled", spool.size());
          return Future.succeededFuture();
        });
  }

  private void closeTransport() {
    try {
      transport.close();
      tokenSource.close();
    } catch (RuntimeException e) {
      log.warn("closing the transport: {}", e.toString());
    } finally {
      lock.close();
    }
  }
}
