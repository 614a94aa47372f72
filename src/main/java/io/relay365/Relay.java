package io.relay365;

import io.relay365.admin.AdminServer;
import io.relay365.admin.MailLog;
import io.relay365.admin.Metrics;
import io.relay365.admin.ObservedTransport;
import io.relay365.admin.StatusBoard;
import io.relay365.config.Settings;
import io.relay365.deliver.EwsTransport;
import io.relay365.deliver.MailboxResolver;
import io.relay365.deliver.MsalTokenSource;
import io.relay365.deliver.QueueRunner;
import io.relay365.deliver.TokenCache;
import io.relay365.deliver.Transport;
import io.relay365.receive.SmtpListener;
import io.relay365.store.Spool;
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
  private final MsalTokenSource tokenSource;
  private final TokenCache tokens;
  private final Transport transport;
  private final QueueRunner runner;
  private final SmtpListener listener;
  // operators' tools (issue 5): observers of MailEvents and the admin HTTP listener
  private final StatusBoard board;
  private final Metrics metrics;
  private final MailEvents events;
  private final AdminServer admin;

  private Relay(Vertx vertx, Settings settings, MailEvents extra) throws Exception {
    this.vertx = vertx;
    this.settings = settings;
    this.spool = Spool.open(settings.spool().dir());
    this.tokenSource = new MsalTokenSource(settings.microsoft());
    this.tokens = new TokenCache(tokenSource, Clock.systemUTC());
    this.board = new StatusBoard();
    this.metrics = new Metrics(spool, tokens, board, Clock.systemUTC());
    this.events = MailEvents.all(List.of(metrics, board, new MailLog(), extra));
    // Interim (lifecycle=true): the runner does not report delivered/deferred yet, the transport wrapper does.
    this.transport = new ObservedTransport(
        new EwsTransport(vertx, settings.ews(), tokens, settings.microsoft().caFile()), events, Clock.systemUTC(), true);
    this.runner = new QueueRunner(vertx, spool, transport, new MailboxResolver(settings.sender()),
        settings.delivery(), Clock.systemUTC());
    this.listener = new SmtpListener(settings.smtp(), spool, env -> {
      events.accepted(env);
      runner.submit(env);
    });
    this.admin = settings.admin().enabled()
        ? new AdminServer(vertx, settings.admin(), spool, tokens, board, metrics, Clock.systemUTC()) : null;
  }

  /**
   * Opens the spool, starts delivering what is already in it, then opens the SMTP port. Fails (and
   * releases everything it opened) if the spool or the port cannot be used.
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
   * Stops in the order that loses nothing: close the SMTP port (sessions in DATA finish or get
   * 421 and keep their copy), let deliveries in flight finish, then release the transport.
   * Whatever is still spooled is delivered at the next start.
   */
  public Future<Void> stop() {
    return vertx.executeBlocking(() -> {
      listener.close();
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
    }
  }
}
