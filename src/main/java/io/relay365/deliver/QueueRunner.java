package io.relay365.deliver;

import io.relay365.MailEvents;
import io.relay365.config.Settings;
import io.relay365.store.Envelope;
import io.relay365.store.Incoming;
import io.relay365.store.QueueControl;
import io.relay365.store.Spool;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves spooled messages to the {@link Transport}: the queue manager of relay365 (Postfix's qmgr).
 *
 * <p>All scheduling state lives on one Vert.x context (a single thread), so it needs no locks; the
 * blocking work (reading headers, rewriting envelopes, removing entries) runs on worker threads and
 * the transport runs on its own bounded pool. The spool on disk stays the source of truth: an entry
 * leaves queue/ only after Exchange accepted the message (or it became a dead letter), so a crash at any
 * point at worst repeats a delivery (at-least-once), never loses one.
 *
 * <p>Scheduling. A message whose time has come is resolved to its sending mailbox and joins that
 * mailbox's ready line. Lines are served round-robin within three limits: delivery.concurrency in
 * flight in total, delivery.per-mailbox-concurrency per mailbox, and delivery.per-mailbox-rate per
 * mailbox in any 60 s (Exchange Online's 30 messages a minute, microsoft-wire.md §5; attempts that ended
 * in the window plus those in flight, so that Exchange never sees more in any minute). A mailbox that is
 * at a limit, or held back (Microsoft's BackOffMilliseconds/Retry-After, or a configuration problem of
 * that mailbox), simply is not served; the others are, so one throttled mailbox never holds up the rest.
 *
 * <p>After an attempt, by {@link Outcome}: delivered → removed; permanent → dead letter (+ notice if
 * delivery.dsn); transient or configuration → envelope rewritten with the next attempt time from
 * {@link RetryPolicy}, or dead letter once max-lifetime is over. Configuration outcomes raise an alert
 * (MailEvents) keyed by what to fix, cleared by the next success of that mailbox or of the relay.
 *
 * <p>Coordination with {@code relay365 queue}: see {@link QueueControl}. This runner is the only writer of
 * queue/ while it runs; it polls spool/control/ and applies retry and delete requests between its own
 * steps, deferring a delete of a message in flight until that attempt ends.
 */
public final class QueueRunner {
  private static final Logger log = LoggerFactory.getLogger(QueueRunner.class);
  private static final Logger mail = LoggerFactory.getLogger("relay365.mail");
  static final Duration RATE_WINDOW = Duration.ofMinutes(1);
  static final Duration CONTROL_POLL = Duration.ofSeconds(1);

  private final Vertx vertx;
  private final Spool spool;
  private final Transport transport;
  private final MailboxResolver resolver;
  private final Settings.Delivery settings;
  private final MailEvents events;
  private final Clock clock;
  private final RetryPolicy policy;
  private final String hostname;
  private final Duration rateWindow;
  private final Duration controlPoll;
  private final SecureRandom random = new SecureRandom();

  private Context context;
  private final Map<String, Entry> entries = new HashMap<>();
  private final Map<String, Box> boxes = new HashMap<>();
  private final LinkedHashSet<Box> active = new LinkedHashSet<>();   // boxes with a non-empty ready line
  private final LinkedHashSet<String> alerts = new LinkedHashSet<>();
  private volatile Runnable onRetryAll = () -> { };
  private int inFlight;
  private int removing;                                            // delivered, entry being removed
  private long relayHeldUntil;                                     // epoch millis; RELAY-scope configuration
  private long relayTimer = -1;
  private long controlTimer = -1;
  private boolean controlBusy;
  private boolean stopping;
  private Promise<Void> drained;

  /** One known message: waiting on a timer, being resolved, ready in its mailbox's line, or in flight. */
  private static final class Entry {
    Envelope env;
    String mailbox;
    long timer = -1;
    boolean inFlight;
    boolean resolving;
    boolean deleteRequested;
    /** The alert this message's last configuration failure of its own raised (scope MESSAGE); null if none. */
    String alert;

    Entry(Envelope env) {
      this.env = env;
    }
  }

  /** Per sending mailbox: its ready line, what is in flight, recent ends of attempts (rate) and any hold. */
  private static final class Box {
    final String mailbox;
    final ArrayDeque<Entry> ready = new ArrayDeque<>();
    final ArrayDeque<Long> ended = new ArrayDeque<>();
    int inFlight;
    long heldUntil;
    long wakeTimer = -1;
    long wakeAt;

    Box(String mailbox) {
      this.mailbox = mailbox;
    }
  }

  public QueueRunner(Vertx vertx, Spool spool, Transport transport, MailboxResolver resolver,
      Settings.Delivery settings, MailEvents events, String hostname, Clock clock) {
    this(vertx, spool, transport, resolver, settings, events, hostname, clock,
        new RetryPolicy(settings, () -> ThreadLocalRandom.current().nextDouble()), RATE_WINDOW, CONTROL_POLL);
  }

  QueueRunner(Vertx vertx, Spool spool, Transport transport, MailboxResolver resolver, Settings.Delivery settings,
      MailEvents events, String hostname, Clock clock, RetryPolicy policy, Duration rateWindow, Duration controlPoll) {
    this.vertx = vertx;
    this.spool = spool;
    this.transport = transport;
    this.resolver = resolver;
    this.settings = settings;
    this.events = events == null ? MailEvents.NONE : events;
    this.hostname = hostname;
    this.clock = clock;
    this.policy = policy;
    this.rateWindow = rateWindow;
    this.controlPoll = controlPoll;
  }

  /**
   * What else "queue retry --all" should do besides releasing holds: the relay drops its cached token
   * there, since a permission the administrator just granted only shows in a new token.
   */
  public void onRetryAll(Runnable action) {
    this.onRetryAll = action == null ? () -> { } : action;
  }

  /** Loads everything already spooled (a previous run's mail) and starts delivering. */
  public Future<Void> start() {
    context = vertx.getOrCreateContext();
    return vertx.executeBlocking(spool::queued, false).compose(list -> {
      Promise<Void> p = Promise.promise();
      context.runOnContext(v -> {
        if (!list.isEmpty()) {
          log.info("{} message(s) already spooled; resuming delivery", list.size());
        }
        list.forEach(this::schedule);
        pump();
        controlTimer = vertx.setPeriodic(controlPoll.toMillis(), t -> pollControl());
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
      vertx.cancelTimer(controlTimer);
      vertx.cancelTimer(relayTimer);
      for (Entry e : entries.values()) {
        vertx.cancelTimer(e.timer);
      }
      for (Box b : boxes.values()) {
        vertx.cancelTimer(b.wakeTimer);
      }
      if (inFlight == 0 && removing == 0) {
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
    context.runOnContext(v -> p.complete(entries.size()));
    return p.future();
  }

  // ---- scheduling (all on the runner's context) ------------------------------------------------

  private void schedule(Envelope env) {
    if (stopping || entries.containsKey(env.id())) {
      return;
    }
    Entry e = new Entry(env);
    entries.put(env.id(), e);
    long delay = env.nextAttempt() == null ? 0 : env.nextAttempt().toEpochMilli() - clock.millis();
    wakeAfter(e, delay);
  }

  private void wakeAfter(Entry e, long millis) {
    if (millis <= 0) {
      due(e);
      return;
    }
    e.timer = vertx.setTimer(millis, t -> {
      e.timer = -1;
      if (!stopping && entries.get(e.env.id()) == e) {
        due(e);
        pump();
      }
    });
  }

  /** The message's time has come: find its mailbox (once), then put it in that mailbox's line. */
  private void due(Entry e) {
    if (e.mailbox != null) {
      enqueue(e);
      return;
    }
    if (Dsn.isNotice(e.env) && settings.postmaster() != null) {
      e.mailbox = settings.postmaster(); // a notice is sent as the postmaster, whatever sender.* says
      enqueue(e);
      return;
    }
    if (!resolver.needsHeaders()) {
      // the envelope is enough (sender.mode envelope, map, fixed): no file to read, no worker to wait for
      resolved(e, resolver.resolve(e.env, null));
      return;
    }
    e.resolving = true;
    vertx.executeBlocking(() -> resolver.resolve(e.env, MessageHeaders.read(spool.messageFile(e.env.id()))), false)
        .onComplete(ar -> {
          e.resolving = false;
          if (entries.get(e.env.id()) != e || stopping) {
            return;
          }
          if (e.deleteRequested) {
            deleteNow(e);
            return;
          }
          if (ar.failed()) {
            unreadable(e, ar.cause());
            return;
          }
          resolved(e, ar.result());
          pump();
        });
  }

  private void resolved(Entry e, MailboxResolver.Resolution r) {
    if (!r.resolved()) {
      e.inFlight = true; // settle() expects it; nothing was sent
      inFlight++;
      settle(e, null, r.failure(), 0);
      return;
    }
    e.mailbox = r.mailbox();
    enqueue(e);
  }

  private void enqueue(Entry e) {
    Box b = boxes.computeIfAbsent(e.mailbox, Box::new);
    b.ready.add(e);
    active.add(b);
  }

  /** Starts as many attempts as the limits allow, one per mailbox per round (round-robin). */
  private void pump() {
    if (stopping) {
      return;
    }
    long now = clock.millis();
    if (relayHeldUntil > now) {
      if (relayTimer < 0) {
        relayTimer = vertx.setTimer(relayHeldUntil - now, t -> {
          relayTimer = -1;
          pump();
        });
      }
      return;
    }
    boolean progress = true;
    while (progress && inFlight < settings.concurrency() && !active.isEmpty()) {
      progress = false;
      for (Box b : new ArrayList<>(active)) {
        if (inFlight >= settings.concurrency()) {
          break;
        }
        if (b.ready.isEmpty()) {
          active.remove(b);
          continue;
        }
        if (b.inFlight >= settings.perMailboxConcurrency()) {
          continue; // woken by the end of one of its attempts
        }
        long wake = blockedUntil(b, now);
        if (wake == WAIT_FOR_AN_ATTEMPT) {
          continue; // woken by the end of one of its attempts
        }
        if (wake > now) {
          wakeBox(b, wake - now);
          continue;
        }
        Entry e = b.ready.poll();
        if (entries.get(e.env.id()) != e) {
          progress = true;
          continue; // deleted meanwhile
        }
        dispatch(b, e, now);
        active.remove(b); // to the back of the round
        if (!b.ready.isEmpty()) {
          active.add(b);
        }
        progress = true;
      }
    }
  }

  /** blockedUntil: no time will do; the next end of one of the mailbox's attempts will. */
  private static final long WAIT_FOR_AN_ATTEMPT = Long.MAX_VALUE;

  /** Epoch millis before which this mailbox may not start another attempt (hold or rate), or 0. */
  private long blockedUntil(Box b, long now) {
    long until = b.heldUntil > now ? b.heldUntil : 0;
    long windowStart = now - rateWindow.toMillis();
    while (!b.ended.isEmpty() && b.ended.peekFirst() <= windowStart) {
      b.ended.pollFirst();
    }
    // Attempts that ended in the window plus those in flight: Exchange counts a message when it takes it, and an
    // attempt in flight may be taken at any moment. Counting starts instead lets a slow upload and a quick one
    // land in the same minute as more than the rate (SMTP submission rejects the excess, §4).
    if (b.ended.size() + b.inFlight >= settings.perMailboxRate()) {
      if (b.ended.isEmpty()) {
        return WAIT_FOR_AN_ATTEMPT;
      }
      until = Math.max(until, b.ended.peekFirst() + rateWindow.toMillis());
    }
    return until;
  }

  private void wakeBox(Box b, long millis) {
    long at = clock.millis() + millis;
    if (b.wakeTimer >= 0 && b.wakeAt <= at) {
      return;
    }
    vertx.cancelTimer(b.wakeTimer);
    b.wakeAt = at;
    b.wakeTimer = vertx.setTimer(Math.max(1, millis), t -> {
      b.wakeTimer = -1;
      pump();
    });
  }

  private void dispatch(Box b, Entry e, long now) {
    inFlight++;
    b.inFlight++;
    e.inFlight = true;
    long started = System.nanoTime();
    Submission s = new Submission(e.env, e.mailbox, spool.messageFile(e.env.id()));
    Future<Outcome> f;
    try {
      f = transport.send(s);
    } catch (RuntimeException ex) {
      f = Future.failedFuture(ex);
    }
    f.onComplete(ar -> {
      Outcome o = ar.succeeded() ? ar.result()
          : Outcome.transientFailure("internal", String.valueOf(ar.cause()), null);
      b.ended.addLast(clock.millis());
      b.inFlight--;
      settle(e, b, o, (System.nanoTime() - started) / 1_000_000);
    });
  }

  // ---- after an attempt ------------------------------------------------------------------------

  /** Called on the context when an attempt (or a failed resolution) ended; e.inFlight is true. */
  private void settle(Entry e, Box b, Outcome outcome, long ms) {
    Envelope env = e.env;
    String mailbox = e.mailbox;
    events.upstream(outcome.code());
    if (outcome.isDelivered()) {
      // The delivery slot is free as soon as Exchange answered; removing the entry (a rename and a
      // directory fsync) runs beside the next deliveries. The entry stays known until it is gone, and
      // stop() waits for removals too, so a clean stop never leaves a delivered message queued.
      removing++;
      finish(e);
      blockingRun(() -> spool.remove(env.id())).onComplete(ar -> {
        removing--;
        if (ar.failed()) {
          // Delivered but still on disk: it would be sent again at the next start. Say so loudly.
          log.error("delivered id={} but could not remove it from the spool: {}", env.id(), ar.cause().toString());
        }
        mail.info("delivered id={} from={} mailbox={} rcpt={} size={} ms={}", env.id(), sender(env), mailbox,
            String.join(",", env.recipients()), env.size(), ms);
        events.delivered(env, mailbox, Duration.between(env.arrived(), clock.instant()));
        clearAlert("mailbox:" + mailbox);
        clearAlert("token");
        clearAlert(settings.transport().key());
        if (e.alert != null) {
          clearAlert(e.alert);
        }
        entries.remove(env.id());
        checkDrained();
      });
      return;
    }
    if ("spool".equals(outcome.code())) {
      // the transport could not read the spooled file: a spool problem, not Microsoft's
      finish(e);
      unreadable(e, new IOException(outcome.detail()));
      return;
    }
    if (outcome.ambiguous()) {
      log.warn("possible duplicate id={} mailbox={}: {}; the retry keeps the same Message-ID", env.id(), mailbox,
          outcome);
      mail.info("possible-duplicate id={} mailbox={} reason={}", env.id(), mailbox, outcome.code());
      events.possibleDuplicate(env);
    }
    if (e.deleteRequested) {
      finish(e);
      deleteNow(e);
      return;
    }
    Instant now = clock.instant();
    boolean expired = outcome.kind() != Outcome.Kind.PERMANENT && policy.expired(env.arrived(), now);
    if (outcome.kind() == Outcome.Kind.PERMANENT || expired) {
      String reason = expired
          ? "gave up after " + age(env, now) + " in the queue (delivery.max-lifetime " + policy.lifetime()
              + "); last error: " + outcome.code() + " " + outcome.detail()
          : outcome.kind().name().toLowerCase(Locale.ROOT) + " " + outcome.code() + ": " + outcome.detail();
      bury(e, mailbox, outcome, reason, expired);
      return;
    }
    Duration delay = policy.delay(Duration.between(env.arrived(), now), outcome);
    Instant next = policy.next(env.arrived(), now, delay);
    hold(e, b, mailbox, outcome, delay, now);
    Envelope failed = env.failed(outcome.code() + ": " + outcome.detail(), next);
    blockingRun(() -> spool.update(failed)).onComplete(ar -> {
      if (ar.failed() && ar.cause() instanceof NoSuchFileException) {
        log.info("id={} left the queue during its attempt (deleted?); forgetting it", env.id());
        finish(e);
        entries.remove(env.id());
        return;
      }
      if (ar.failed()) {
        log.warn("could not record the failed attempt of id={}: {}", env.id(), ar.cause().toString());
      }
      mail.info("deferred id={} from={} mailbox={} rcpt={} attempts={} delay={}s reason={} {}", env.id(),
          sender(env), mailbox == null ? "-" : mailbox, String.join(",", env.recipients()), failed.attempts(),
          Duration.between(now, next).toSeconds(), outcome.kind().name().toLowerCase(Locale.ROOT),
          outcome.code() + " " + outcome.detail());
      events.deferred(failed, mailbox, outcome);
      e.env = failed;
      finish(e);
      if (!stopping && entries.get(env.id()) == e) {
        if (e.deleteRequested) {
          deleteNow(e);
        } else {
          wakeAfter(e, next.toEpochMilli() - clock.millis());
        }
      }
      pump();
    });
  }

  /**
   * Holds back more than this message when the outcome says so: Microsoft's wait hint holds the whole
   * mailbox (its budget is per mailbox, §2.5); a mailbox-scoped problem holds that mailbox; a relay-wide
   * configuration problem (credentials, app registration) holds every delivery. Configuration raises an
   * alert naming what to fix.
   */
  private void hold(Entry e, Box b, String mailbox, Outcome o, Duration delay, Instant now) {
    long nowMs = now.toEpochMilli();
    if (b != null && o.retryAfter() != null) {
      b.heldUntil = Math.max(b.heldUntil, nowMs + o.retryAfter().toMillis());
    }
    if (b != null && o.scope() == Outcome.Scope.MAILBOX) {
      b.heldUntil = Math.max(b.heldUntil, nowMs + delay.toMillis());
    }
    if (o.kind() != Outcome.Kind.CONFIGURATION) {
      return;
    }
    if (mailbox == null) {
      // no mailbox could be chosen (sender.*): this message only
      raiseAlert("sender", "a message has no sending mailbox: " + o.detail());
    } else if (o.scope() == Outcome.Scope.MESSAGE) {
      // a fix only some messages need (e.g. Graph's Mail.ReadWrite for large ones): the others keep
      // flowing, so their deliveries must not clear it; this message's own delivery does
      e.alert = "messages:" + o.code();
      raiseAlert(e.alert, "mail such as " + e.env.id() + " (sent as " + mailbox + ") is held: " + o.code() + ": "
          + o.detail());
    } else if (o.scope() == Outcome.Scope.MAILBOX) {
      raiseAlert("mailbox:" + mailbox, "mail sent as " + mailbox + " is held: " + o.code() + ": " + o.detail());
    } else {
      relayHeldUntil = Math.max(relayHeldUntil, nowMs + delay.toMillis());
      boolean token = o.code().startsWith("AADSTS") || (o.detail() != null && o.detail().startsWith("token"));
      raiseAlert(token ? "token" : settings.transport().key(), "all delivery is held: " + o.code() + ": " + o.detail());
    }
  }

  private void raiseAlert(String key, String text) {
    log.error("ALERT {}: {} (mail stays queued; fix it, then: relay365 queue retry --all)", key, text);
    alerts.add(key);
    events.alert(key, text);
  }

  private void clearAlert(String key) {
    if (alerts.remove(key)) {
      log.info("alert {} cleared: delivery works again", key);
      events.alertCleared(key);
    }
  }

  private void bury(Entry e, String mailbox, Outcome outcome, String reason, boolean expired) {
    Envelope env = e.env;
    blocking(() -> {
      Envelope buried = spool.bury(env, reason);
      if (settings.dsn() && Dsn.wanted(buried)) {
        notice(buried, Dsn.status(outcome, expired), reason);
      }
      return buried;
    }).onComplete(ar -> {
      if (ar.failed() && !(ar.cause() instanceof NoSuchFileException)) {
        log.error("could not move id={} to the dead letters: {}; it stays queued", env.id(), ar.cause().toString());
        finish(e);
        if (!stopping) {
          wakeAfter(e, settings.maxBackoff().toMillis());
        }
        return;
      }
      mail.info("dead id={} from={} mailbox={} rcpt={} attempts={} reason={}", env.id(), sender(env),
          mailbox == null ? "-" : mailbox, String.join(",", env.recipients()), env.attempts() + 1, reason);
      events.dead(env, reason);
      finish(e);
      entries.remove(env.id());
      pump();
    });
  }

  /** Spools a failure notice for a dead letter (worker thread); it is then delivered like any message. */
  private void notice(Envelope dead, String status, String reason) {
    try (Incoming in = spool.begin()) {
      byte[] dsn = Dsn.compose(dead, status, reason, settings.postmaster(), hostname,
          spool.deadMessageFile(dead.id()), clock.instant(), Long.toString(random.nextLong() >>> 1, 36));
      in.body().write(dsn);
      Envelope n = in.commit("", List.of(dead.sender()), Dsn.CLIENT, hostname);
      mail.info("notice id={} for dead id={} to={}", n.id(), dead.id(), dead.sender());
      submit(n);
    } catch (IOException | RuntimeException ex) {
      log.error("could not queue the failure notice for dead id={}: {}", dead.id(), ex.toString());
    }
  }

  /** The entry could not be read while delivering it: quarantine it (or forget it if it is gone). */
  private void unreadable(Entry e, Throwable cause) {
    String id = e.env.id();
    entries.remove(id);
    blocking(() -> {
      Optional<Envelope> still;
      try {
        still = spool.read(id);
      } catch (IOException corrupt) {
        spool.quarantine(id, corrupt.getMessage());
        return "quarantined";
      }
      if (still.isEmpty()) {
        return "gone";
      }
      // readable now but not a moment ago (e.g. a message.eml deleted by hand): quarantine, never loop
      spool.quarantine(id, "could not be read for delivery: " + cause);
      return "quarantined";
    }).onComplete(ar -> {
      if (ar.succeeded() && ar.result().equals("gone")) {
        // delivered or deleted meanwhile: a listing made just before (queue retry --all) named it again
        log.debug("spool entry id={} is gone: nothing to deliver", id);
      } else {
        log.warn("spool entry id={} unreadable during delivery ({}): {}", id, cause.toString(),
            ar.succeeded() ? ar.result() : ar.cause().toString());
      }
      pump();
    });
  }

  private void deleteNow(Entry e) {
    String id = e.env.id();
    entries.remove(id);
    vertx.cancelTimer(e.timer);
    blockingRun(() -> spool.remove(id)).onComplete(ar -> {
      if (ar.failed()) {
        log.error("could not delete id={}: {}", id, ar.cause().toString());
      } else {
        mail.info("deleted id={} from={} rcpt={} by the queue tool", id, sender(e.env),
            String.join(",", e.env.recipients()));
      }
      pump();
    });
  }

  private void finish(Entry e) {
    if (e.inFlight) {
      e.inFlight = false;
      inFlight--;
    }
    checkDrained();
    pump();
  }

  private void checkDrained() {
    if (stopping && inFlight == 0 && removing == 0 && drained != null) {
      drained.tryComplete();
    }
  }

  // ---- queue tool requests ---------------------------------------------------------------------

  private void pollControl() {
    if (controlBusy || stopping) {
      return;
    }
    controlBusy = true;
    vertx.executeBlocking(() -> QueueControl.pending(spool), false).onComplete(ar -> {
      controlBusy = false;
      if (ar.failed() || ar.result().isEmpty()) {
        return;
      }
      for (QueueControl.Request r : ar.result()) {
        apply(r);
      }
      pump();
    });
  }

  private void apply(QueueControl.Request r) {
    if (r.action() == QueueControl.Action.RETRY && QueueControl.ALL.equals(r.id())) {
      log.info("queue tool: retry all");
      onRetryAll.run();
      relayHeldUntil = 0;
      for (Box b : boxes.values()) {
        b.heldUntil = 0;
      }
      for (Entry e : new ArrayList<>(entries.values())) {
        retryNow(e);
      }
      // also pick up entries put in queue/ by hand
      blocking(spool::queued).onComplete(ar -> {
        if (ar.succeeded()) {
          ar.result().forEach(this::schedule);
        }
        QueueControl.done(r.file());
        pump();
      });
      return;
    }
    if (r.action() == QueueControl.Action.REQUEUE) {
      log.info("queue tool: requeue dead letter {}", r.id());
      blocking(() -> spool.requeue(r.id())).onComplete(ar -> {
        if (ar.succeeded()) {
          mail.info("requeued id={} from the dead letters by the queue tool", r.id());
          schedule(ar.result());
          pump();
        } else {
          log.warn("queue tool: cannot requeue {}: {}", r.id(), ar.cause().toString());
        }
        QueueControl.done(r.file());
      });
      return;
    }
    Entry e = entries.get(r.id());
    if (r.action() == QueueControl.Action.DELETE) {
      log.info("queue tool: delete {}", r.id());
      if (e == null) {
        blockingRun(() -> spool.remove(r.id())).onComplete(ar -> QueueControl.done(r.file()));
        mail.info("deleted id={} by the queue tool", r.id());
        return;
      }
      if (e.inFlight || e.resolving) {
        e.deleteRequested = true; // applied when the attempt ends (see QueueControl)
      } else {
        deleteNow(e);
      }
      QueueControl.done(r.file());
      return;
    }
    log.info("queue tool: retry {}", r.id());
    if (e == null) {
      blocking(() -> spool.read(r.id())).onComplete(ar -> {
        if (ar.succeeded() && ar.result().isPresent()) {
          schedule(ar.result().get());
          pump();
        }
        QueueControl.done(r.file());
      });
      return;
    }
    if (e.mailbox != null) {
      Box b = boxes.get(e.mailbox);
      if (b != null) {
        b.heldUntil = 0;
      }
    }
    retryNow(e);
    QueueControl.done(r.file());
  }

  /** A message waiting on its timer is due now; one in flight, resolving or ready is left alone. */
  private void retryNow(Entry e) {
    if (e.timer >= 0 && !e.inFlight && !e.resolving) {
      vertx.cancelTimer(e.timer);
      e.timer = -1;
      due(e);
    }
  }

  // ---- helpers ---------------------------------------------------------------------------------

  private interface Work<T> {
    T run() throws Exception;
  }

  private interface VoidWork {
    void run() throws Exception;
  }

  private <T> Future<T> blocking(Work<T> w) {
    return vertx.executeBlocking(w::run, false);
  }

  private Future<Void> blockingRun(VoidWork w) {
    return vertx.executeBlocking(() -> {
      w.run();
      return null;
    }, false);
  }

  private static String age(Envelope env, Instant now) {
    Duration d = Duration.between(env.arrived(), now);
    return d.toDays() > 0 ? d.toDays() + "d" + d.toHoursPart() + "h" : d.toMinutes() + "m";
  }

  private static String sender(Envelope env) {
    return env.nullSender() ? "<>" : env.sender();
  }
}
