package io.relay365.admin;

import io.relay365.MailEvents;
import io.relay365.deliver.Outcome;
import io.relay365.store.Envelope;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * What the status page and the message API show, kept from {@link MailEvents}: the last deliveries,
 * the last errors, the alerts that are raised and not cleared, and the latest state of each recent
 * queue id (for {@code relay365 send-test}). Bounded in memory; lost at restart (the spool on disk
 * remains the truth about what waits). Thread-safe: every method is short and synchronized.
 */
public final class StatusBoard implements MailEvents {
  static final int RECENT = 25;
  static final int ERRORS = 25;
  static final int TRACKED_IDS = 5000;

  /** One delivered message, for the "recent deliveries" table. */
  public record Delivery(Instant at, String id, String from, String mailbox, List<String> recipients,
      Duration latency) {}

  /** One failure: a deferral, a dead letter, an SMTP rejection. {@code id} is null for a rejection. */
  public record Failure(Instant at, String id, String what, String code, String detail) {}

  /** A raised alert: something an administrator must fix. */
  public record Alert(String key, String text, Instant since, Instant last, int times) {}

  /** The latest known state of one queue id: accepted, deferred, delivered or dead. */
  public record MessageState(String id, String status, Instant at, String mailbox, String code, String detail,
      int attempts) {}

  private final Clock clock;
  private final Deque<Delivery> deliveries = new ArrayDeque<>();
  private final Deque<Failure> failures = new ArrayDeque<>();
  private final Map<String, Alert> alerts = new LinkedHashMap<>();
  private final Map<String, MessageState> states = new LinkedHashMap<>(256, 0.75f, false) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, MessageState> eldest) {
      return size() > TRACKED_IDS;
    }
  };
  private long upstreamErrors;

  public StatusBoard(Clock clock) {
    this.clock = clock;
  }

  public StatusBoard() {
    this(Clock.systemUTC());
  }

  @Override
  public synchronized void accepted(Envelope e) {
    states.put(e.id(), new MessageState(e.id(), "accepted", clock.instant(), null, null, null, 0));
  }

  @Override
  public synchronized void rejected(String reason) {
    push(failures, new Failure(clock.instant(), null, "rejected", reason, "the SMTP client was refused"), ERRORS);
  }

  @Override
  public synchronized void delivered(Envelope e, String mailbox, Duration latency) {
    Instant now = clock.instant();
    push(deliveries, new Delivery(now, e.id(), from(e), mailbox, e.recipients(), latency), RECENT);
    states.remove(e.id()); // re-insert at the end: most recent last
    states.put(e.id(), new MessageState(e.id(), "delivered", now, mailbox, "NoError", null, e.attempts() + 1));
  }

  @Override
  public synchronized void deferred(Envelope e, String mailbox, Outcome o) {
    Instant now = clock.instant();
    push(failures, new Failure(now, e.id(), "deferred " + o.kind().name().toLowerCase(Locale.ROOT), o.code(),
        o.detail()), ERRORS);
    states.remove(e.id());
    states.put(e.id(), new MessageState(e.id(), "deferred", now, mailbox, o.code(), o.detail(), e.attempts() + 1));
  }

  @Override
  public synchronized void dead(Envelope e, String reason) {
    Instant now = clock.instant();
    push(failures, new Failure(now, e.id(), "dead", "dead", reason), ERRORS);
    states.remove(e.id());
    states.put(e.id(), new MessageState(e.id(), "dead", now, null, null, reason, e.attempts()));
  }

  @Override
  public synchronized void upstream(String code) {
    if (!"NoError".equals(code)) {
      upstreamErrors++;
    }
  }

  @Override
  public synchronized void alert(String key, String text) {
    Instant now = clock.instant();
    Alert old = alerts.get(key);
    alerts.put(key, old == null ? new Alert(key, text, now, now, 1)
        : new Alert(key, text, old.since(), now, old.times() + 1));
  }

  @Override
  public synchronized void alertCleared(String key) {
    alerts.remove(key);
  }

  public synchronized List<Delivery> recentDeliveries() {
    List<Delivery> l = new ArrayList<>(deliveries);
    java.util.Collections.reverse(l);
    return l;
  }

  public synchronized List<Failure> lastErrors() {
    List<Failure> l = new ArrayList<>(failures);
    java.util.Collections.reverse(l);
    return l;
  }

  public synchronized List<Alert> alerts() {
    return List.copyOf(alerts.values());
  }

  public synchronized boolean alerting() {
    return !alerts.isEmpty();
  }

  public synchronized Optional<MessageState> message(String id) {
    return Optional.ofNullable(states.get(id));
  }

  private static <T> void push(Deque<T> d, T item, int max) {
    d.addLast(item);
    while (d.size() > max) {
      d.removeFirst();
    }
  }

  static String from(Envelope e) {
    return e.nullSender() ? "<>" : e.sender();
  }
}
