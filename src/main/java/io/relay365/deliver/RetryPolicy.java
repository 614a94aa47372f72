package io.relay365.deliver;

import io.relay365.config.Settings;
import java.time.Duration;
import java.time.Instant;
import java.util.function.DoubleSupplier;

/**
 * When to try a message again, and when to give up (models.md "Retry schedules").
 * <ul>
 *   <li>Transient: the wait is the time the message has already spent in the queue, as Postfix does
 *       ("using time in queue, not time since the last attempt, spreads retries for free"): roughly
 *       doubling, 1m, 2m, 4m … with min-backoff 1m.
 *   <li>Configuration: max-backoff at once: nothing changes until an administrator acts, and then
 *       {@code relay365 queue retry --all} retries without waiting.
 *   <li>±20% random jitter, so that after a restart or an outage the queue does not retry in lockstep
 *       (chasquid adds jitter for the same reason); then clamped to [min-backoff, max-backoff].
 *   <li>Microsoft's hint (BackOffMilliseconds, Retry-After) is a minimum on top of that, even above
 *       max-backoff: Exchange said when it will take requests again.
 *   <li>Never beyond the message's lifetime: the last attempt is at arrival + max-lifetime, and a
 *       failure after that makes it a dead letter.
 * </ul>
 */
public final class RetryPolicy {
  private static final double JITTER = 0.2;

  private final Duration min;
  private final Duration max;
  private final Duration lifetime;
  private final DoubleSupplier random;

  public RetryPolicy(Settings.Delivery d, DoubleSupplier random) {
    this(d.minBackoff(), d.maxBackoff(), d.maxLifetime(), random);
  }

  RetryPolicy(Duration min, Duration max, Duration lifetime, DoubleSupplier random) {
    this.min = min;
    this.max = max;
    this.lifetime = lifetime;
    this.random = random;
  }

  /** The wait before the next attempt of a message that has been queued for {@code age}. */
  public Duration delay(Duration age, Outcome outcome) {
    Duration base = outcome.kind() == Outcome.Kind.CONFIGURATION ? max : clamp(age);
    double factor = 1 - JITTER + 2 * JITTER * random.getAsDouble();
    Duration d = clamp(Duration.ofMillis((long) (base.toMillis() * factor)));
    if (outcome.retryAfter() != null && outcome.retryAfter().compareTo(d) > 0) {
      d = outcome.retryAfter();
    }
    return d;
  }

  /** True once the message has been queued for max-lifetime: the failure that just happened is its last. */
  public boolean expired(Instant arrived, Instant now) {
    return Duration.between(arrived, now).compareTo(lifetime) >= 0;
  }

  /** now + delay, but never after the end of the message's lifetime. */
  public Instant next(Instant arrived, Instant now, Duration delay) {
    Instant next = now.plus(delay);
    Instant deadline = arrived.plus(lifetime);
    return next.isAfter(deadline) ? deadline : next;
  }

  public Duration lifetime() {
    return lifetime;
  }

  private Duration clamp(Duration d) {
    if (d.compareTo(min) < 0) {
      return min;
    }
    return d.compareTo(max) > 0 ? max : d;
  }
}
