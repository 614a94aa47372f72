package io.relay365.deliver;

import io.relay365.config.Settings;
import io.relay365.store.Envelope;
import io.relay365.store.Spool;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves spooled messages to the {@link Transport}: the queue manager of relay365.
 *
 * <p>All scheduling state lives on one Vert.x context (a single thread), so it needs no locks; the
 * blocking work (reading headers, rewriting envelopes, removing entries) runs on worker threads and
 * the transport runs on its own bounded pool. The spool on disk stays the source of truth: an entry
 * leaves it only after Exchange accepted the message, so a crash at any point at worst repeats a
 * delivery (at-least-once), never loses one.
 *
 * <p>For each message: resolve the sending mailbox, send, then remove it (delivered) or record the
 * failure in its envelope and try again after a delay (anything else). The full retry policy with
 * outcome classes, give-up and dead letters is a later step; here every failure is retried.
 */
public final class QueueRunner {
  private static final Logger log = LoggerFactory.getLogger(QueueRunner.class);
  private static final Logger mail = LoggerFactory.getLogger("relay365.mail");

  private final Vertx vertx;
  private final Spool spool;
  private final Transport transport;
  private final MailboxResolver resolver;
  private final Settings.Delivery settings;
  private final Clock clock;

  private Context context;
  private final Deque<Envelope> ready = new ArrayDeque<>();
  private final Set<String> known = new HashSet<>();         // ids ready, waiting on a timer or in flight
  private final Map<String, Long> timers = new HashMap<>();
  private int inFlight;
  private boolean stopping;
  private Promise<Void> drained;

  public QueueRunner(Vertx vertx, Spool spool, Transport transport, MailboxResolver resolver,
      Settings.Delivery settings, Clock clock) {
    this.vertx = vertx;
    this.spool = spool;
    this.transport = transport;
    this.resolver = resolver;
    this.settings = settings;
    this.clock = clock;
  }

  /** Loads everything already spooled (a previous run's mail) and starts delivering. */
  public Future<Void> start() {
    context = vertx.getOrCreateContext();
    return vertx.executeBlocking(spool::queued, false).compose(entries -> {
      Promise<Void> p = Promise.promise();
      context.runOnContext(v -> {
        if (!entries.isEmpty()) {
          log.info("{} message(s) already spooled; resuming delivery", entries.size());
        }
        entries.forEach(this::schedule);
        pump();
        p.complete();
      });
      return p.future();
    });
  }

  /** Called from an SMTP session thread right after a message was committed to the spool. */
  public void submit(Envelope envelope) {
    context.runOnContext(v -> {
      schedule(envelope);
      pump();
    });
  }

  /** Stops starting deliveries and waits for those in flight (bounded by {@code timeout}). */
  public Future<Void> stop(Duration timeout) {
    Promise<Void> p = Promise.promise();
    context.runOnContext(v -> {
      stopping = true;
      timers.values().forEach(vertx::cancelTimer);
      timers.clear();
      if (inFlight == 0) {
        p.complete();
      } else {
        drained = p;
        log.info("waiting for {} delivery(ies) in flight", inFlight);
      }
    });
    return p.future().timeout(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
        .recover(e -> {
          log.warn("stopped with deliveries still in flight; they stay spooled and are retried at next start");
          return Future.succeededFuture();
        });
  }

  /** Ids known to the runner right now (ready, waiting or in flight); for tests and status. */
  public Future<Integer> pending() {
    Promise<Integer> p = Promise.promise();
    context.runOnContext(v -> p.complete(known.size()));
    return p.future();
  }

  private void schedule(Envelope env) {
    if (stopping || !known.add(env.id())) {
      return;
    }
    Instant now = clock.instant();
    if (env.nextAttempt() == null || !env.nextAttempt().isAfter(now)) {
      ready.add(env);
    } else {
      long delay = Math.max(1, Duration.between(now, env.nextAttempt()).toMillis());
      wakeAfter(env, delay);
    }
  }

  private void wakeAfter(Envelope env, long millis) {
    long timer = vertx.setTimer(millis, t -> {
      timers.remove(env.id());
      if (!stopping) {
        ready.add(env);
        pump();
      }
    });
    timers.put(env.id(), timer);
  }

  private void pump() {
    while (!stopping && inFlight < settings.concurrency() && !ready.isEmpty()) {
      Envelope env = ready.poll();
      inFlight++;
      long started = System.nanoTime();
      attempt(env).onComplete(ar -> {
        Attempt a = ar.succeeded() ? ar.result()
            : new Attempt(null, Outcome.transientFailure("internal", String.valueOf(ar.cause()), null));
        settle(env, a.mailbox(), a.outcome(), (System.nanoTime() - started) / 1_000_000);
      });
    }
  }

  /** The mailbox an attempt sent as (null if none could be resolved) and how it went. */
  private record Attempt(String mailbox, Outcome outcome) {}

  /** One delivery attempt; never fails the future for an upstream problem (the Outcome says it). */
  private Future<Attempt> attempt(Envelope env) {
    return vertx.executeBlocking(() -> resolver.resolve(env, MessageHeaders.read(spool.messageFile(env.id()))), false)
        .compose(resolution -> {
          if (resolution.mailbox() == null) {
            return Future.succeededFuture(new Attempt(null, resolution.failure()));
          }
          Submission s = new Submission(env, resolution.mailbox(), spool.messageFile(env.id()));
          return transport.send(s).map(o -> new Attempt(s.mailbox(), o));
        });
  }

  private void settle(Envelope env, String mailbox, Outcome outcome, long ms) {
    if (outcome.isDelivered()) {
      vertx.executeBlocking(() -> {
        spool.remove(env.id());
        return null;
      }, false).onComplete(ar -> {
        if (ar.failed()) {
          // Delivered but still on disk: it would be sent again at the next start. Say so loudly.
          log.error("delivered id={} but could not remove it from the spool: {}", env.id(), ar.cause().toString());
        }
        mail.info("delivered id={} from={} mailbox={} rcpt={} size={} ms={}", env.id(), sender(env), mailbox,
            String.join(",", env.recipients()), env.size(), ms);
        finish(env);
      });
      return;
    }
    Duration delay = settings.retryDelay();
    if (outcome.retryAfter() != null && outcome.retryAfter().compareTo(delay) > 0) {
      delay = outcome.retryAfter(); // Microsoft's own hint is a minimum (BackOffMilliseconds, Retry-After)
    }
    Instant next = clock.instant().plus(delay);
    Envelope failed = env.failed(outcome.code() + ": " + outcome.detail(), next);
    Duration wait = delay;
    vertx.executeBlocking(() -> {
      spool.update(failed);
      return null;
    }, false).onComplete(ar -> {
      if (ar.failed()) {
        log.warn("could not record the failed attempt of id={}: {}", env.id(), ar.cause().toString());
      }
      mail.info("deferred id={} from={} mailbox={} rcpt={} attempts={} delay={}s reason={} {}", env.id(), sender(env),
          mailbox == null ? "-" : mailbox, String.join(",", env.recipients()), failed.attempts(), wait.toSeconds(),
          outcome.kind().name().toLowerCase(java.util.Locale.ROOT), outcome.code() + " " + outcome.detail());
      inFlight--;
      if (stopping) {
        known.remove(env.id());
        checkDrained();
      } else {
        wakeAfter(failed, wait.toMillis());
        pump();
      }
    });
  }

  private void finish(Envelope env) {
    inFlight--;
    known.remove(env.id());
    checkDrained();
    pump();
  }

  private void checkDrained() {
    if (stopping && inFlight == 0 && drained != null) {
      drained.tryComplete();
    }
  }

  private static String sender(Envelope env) {
    return env.nullSender() ? "<>" : env.sender();
  }
}
