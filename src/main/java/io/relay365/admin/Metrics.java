package io.relay365.admin;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.relay365.MailEvents;
import io.relay365.deliver.Outcome;
import io.relay365.deliver.TokenCache;
import io.relay365.store.Envelope;
import io.relay365.store.Spool;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;

/**
 * The Prometheus metrics (README "Metrics" lists them), fed by {@link MailEvents} and read from the
 * spool and the token cache at scrape time. Label values come from small fixed sets (outcome kinds,
 * rejection reasons, upstream codes), never from addresses or ids, so the series count stays bounded.
 *
 * <p>{@link #scrape()} reads the spool's envelopes for the oldest message's age: call it off the
 * event loop.
 */
public final class Metrics implements MailEvents {
  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final Clock clock;
  private final Spool spool;
  private final Counter accepted;
  private final Counter delivered;
  private final Counter dead;
  private final Counter duplicates;
  private final Timer latency;
  private volatile double oldestAgeSeconds;

  public Metrics(Spool spool, TokenCache tokens, StatusBoard board, Clock clock) {
    this.clock = clock;
    this.spool = spool;
    accepted = Counter.builder("relay365.messages.accepted")
        .description("Messages committed to the spool and acknowledged with 250").register(registry);
    delivered = Counter.builder("relay365.messages.delivered")
        .description("Messages Exchange accepted").register(registry);
    dead = Counter.builder("relay365.messages.dead")
        .description("Messages given up on (dead letters)").register(registry);
    duplicates = Counter.builder("relay365.messages.possible.duplicates")
        .description("Attempts that ended without an answer after the request was sent").register(registry);
    // Fixed buckets: from a quick EWS call to a message that waited out a long outage.
    latency = Timer.builder("relay365.delivery.latency")
        .description("Time from acceptance (250) to delivery")
        .serviceLevelObjectives(Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1),
            Duration.ofSeconds(2), Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(30),
            Duration.ofMinutes(1), Duration.ofMinutes(5), Duration.ofMinutes(15), Duration.ofHours(1),
            Duration.ofHours(6), Duration.ofDays(1))
        .register(registry);
    Gauge.builder("relay365.queue.messages", spool, Spool::size)
        .description("Messages in the spool waiting for delivery").register(registry);
    Gauge.builder("relay365.queue.oldest.age", this, m -> m.oldestAgeSeconds).baseUnit("seconds")
        .description("Age of the oldest message in the spool (0 when empty)").register(registry);
    FunctionCounter.builder("relay365.token.requests", tokens, TokenCache::fetches)
        .description("Token requests sent to Entra ID").register(registry);
    FunctionCounter.builder("relay365.token.failures", tokens, TokenCache::failures)
        .description("Token requests that failed").register(registry);
    Gauge.builder("relay365.alerts.active", board, b -> b.alerts().size())
        .description("Alerts raised and not cleared (an administrator must act)").register(registry);
    new JvmMemoryMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
  }

  public MeterRegistry registry() {
    return registry;
  }

  /** The Prometheus text exposition. Blocking (reads envelopes from the spool). */
  public String scrape() {
    oldestAgeSeconds = oldestAge(spool, clock.instant());
    return registry.scrape();
  }

  static double oldestAge(Spool spool, Instant now) {
    if (spool.size() == 0) {
      return 0;
    }
    return spool.queued().stream().map(Envelope::arrived).min(Instant::compareTo)
        .map(a -> Math.max(0, Duration.between(a, now).toMillis() / 1000.0)).orElse(0.0);
  }

  @Override
  public void accepted(Envelope e) {
    accepted.increment();
  }

  @Override
  public void rejected(String reason) {
    Counter.builder("relay365.smtp.rejections").description("SMTP commands or messages refused, by reason")
        .tag("reason", label(reason)).register(registry).increment();
  }

  @Override
  public void delivered(Envelope e, String mailbox, Duration l) {
    delivered.increment();
    latency.record(l);
  }

  @Override
  public void deferred(Envelope e, String mailbox, Outcome o) {
    Counter.builder("relay365.messages.deferred").description("Failed attempts; the message waits for another")
        .tag("kind", o.kind().name().toLowerCase(Locale.ROOT)).register(registry).increment();
  }

  @Override
  public void dead(Envelope e, String reason) {
    dead.increment();
  }

  @Override
  public void possibleDuplicate(Envelope e) {
    duplicates.increment();
  }

  @Override
  public void upstream(String code) {
    Counter.builder("relay365.upstream.responses")
        .description("Answers from Microsoft: EWS ResponseCode, HTTP status, AADSTS code or a local failure name")
        .tag("code", label(code)).register(registry).increment();
  }

  /** Keeps label values short and printable (they come from fixed sets, but stay safe). */
  static String label(String s) {
    if (s == null || s.isBlank()) {
      return "unknown";
    }
    String t = s.strip().replaceAll("[^A-Za-z0-9 ._:-]", "_");
    return t.length() > 60 ? t.substring(0, 60) : t;
  }
}
