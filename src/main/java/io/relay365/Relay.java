package io.relay365;

import io.relay365.config.Settings;
import io.relay365.deliver.EwsTransport;
import io.relay365.deliver.MailboxResolver;
import io.relay365.deliver.MsalTokenSource;
import io.relay365.deliver.QueueRunner;
import io.relay365.deliver.TokenCache;
import io.relay365.deliver.Transport;
import io.relay365.receive.SmtpListener;
import io.relay365.store.Admission;
import io.relay365.store.Spool;
import io.relay365.store.SpoolLock;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Clock;
import java.time.Duration;
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

  /** How long a stop lets SMTP transactions in progress finish (systemd's TimeoutStopSec is 90 s). */
  static final Duration SMTP_DRAIN = Duration.ofSeconds(30);

  private Relay(Vertx vertx, Settings settings, MailEvents events) throws Exception {
    this.vertx = vertx;
    this.settings = settings;
    this.events = events;
    // The daemon is the only writer of queue/ while it runs (the queue tool then only leaves requests).
    // Lock first: opening the spool clears tmp/, which would break another daemon's transactions.
    java.nio.file.Path dir = settings.spool().dir();
    if (!java.nio.file.Files.isDirectory(dir)) {
      java.nio.file.Files.createDirectories(dir, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
          java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
    }
    this.lock = SpoolLock.tryAcquire(dir).orElseThrow(() -> new java.io.IOException(
        "spool " + dir + " is in use by another relay365 (" + dir.resolve("relay365.lock") + " is locked)"));
    try {
      this.spool = Spool.open(dir);
      this.tokenSource = new MsalTokenSource(settings.microsoft());
      this.tokens = new TokenCache(tokenSource, Clock.systemUTC());
      this.transport = new EwsTransport(vertx, settings.ews(), tokens, settings.microsoft().caFile());
      this.runner = new QueueRunner(vertx, spool, transport, new MailboxResolver(settings.sender()),
          settings.delivery(), events, settings.smtp().hostname(), Clock.systemUTC());
      this.listener = new SmtpListener(settings.smtp(), spool, env -> {
        events.accepted(env);
        runner.submit(env);
      }, Admission.of(spool, settings.spool().maxMessages(), settings.spool().minFreeDisk()));
    } catch (Exception | Error e) {
      lock.close();
      throw e;
    }
  }

  public static Future<Relay> start(Vertx vertx, Settings settings) {
    return start(vertx, settings, MailEvents.NONE);
  }

  /**
   * Opens the spool, starts delivering what is already in it, then opens the SMTP port. Fails (and
   * releases everything it opened) if the spool or the port cannot be used.
   *
   * @param events told of everything that happens to mail (metrics, status, alerts); never null
   */
  public static Future<Relay> start(Vertx vertx, Settings settings, MailEvents events) {
    java.util.Objects.requireNonNull(events, "events");
    return vertx.executeBlocking(() -> new Relay(vertx, settings, events), false)
        .compose(r -> r.runner.start()
            .compose(v -> vertx.executeBlocking(() -> {
              r.listener.start();
              return r;
            }, false))
            .onFailure(e -> r.closeTransport()));
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
