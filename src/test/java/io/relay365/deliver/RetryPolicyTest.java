package io.relay365.deliver;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class RetryPolicyTest {
  static final Duration MIN = Duration.ofMinutes(1);
  static final Duration MAX = Duration.ofMinutes(30);
  static final Outcome BUSY = Outcome.transientFailure("HTTP 503", "", null);

  RetryPolicy policy(double random) {
    return new RetryPolicy(MIN, MAX, Duration.ofDays(5), () -> random);
  }

  @Test
  void delayIsTheTimeAlreadyInTheQueueClampedToTheBounds() {
    RetryPolicy p = policy(0.5); // no jitter
    assertThat(p.delay(Duration.ZERO, BUSY)).isEqualTo(MIN);
    assertThat(p.delay(Duration.ofMinutes(4), BUSY)).isEqualTo(Duration.ofMinutes(4));
    assertThat(p.delay(Duration.ofMinutes(8), BUSY)).isEqualTo(Duration.ofMinutes(8));
    assertThat(p.delay(Duration.ofHours(3), BUSY)).isEqualTo(MAX);
  }

  @Test
  void jitterSpreadsRetriesByTwentyPercentWithinTheBounds() {
    assertThat(policy(0.0).delay(Duration.ofMinutes(10), BUSY)).isEqualTo(Duration.ofMinutes(8));
    assertThat(policy(1.0).delay(Duration.ofMinutes(10), BUSY)).isEqualTo(Duration.ofMinutes(12));
    assertThat(policy(1.0).delay(Duration.ofHours(2), BUSY)).as("never above max").isEqualTo(MAX);
    assertThat(policy(0.0).delay(Duration.ZERO, BUSY)).as("never below min").isEqualTo(MIN);
  }

  @Test
  void microsoftsHintIsAMinimumEvenAboveMax() {
    Outcome hint = Outcome.transientFailure("ErrorServerBusy", "", Duration.ofMinutes(45));
    assertThat(policy(0.5).delay(Duration.ZERO, hint)).isEqualTo(Duration.ofMinutes(45));
    Outcome small = Outcome.transientFailure("ErrorServerBusy", "", Duration.ofSeconds(5));
    assertThat(policy(0.5).delay(Duration.ofMinutes(4), small)).isEqualTo(Duration.ofMinutes(4));
  }

  @Test
  void configurationWaitsTheLongDelayAtOnce() {
    Outcome conf = Outcome.configuration("HTTP 403", "policy");
    assertThat(policy(0.5).delay(Duration.ZERO, conf)).isEqualTo(MAX);
  }

  @Test
  void lifetimeEndsWithALastAttemptAtTheDeadline() {
    RetryPolicy p = policy(0.5);
    Instant arrived = Instant.parse("2026-01-01T00:00:00Z");
    Instant now = arrived.plus(Duration.ofDays(5)).minusSeconds(60);
    assertThat(p.expired(arrived, now)).isFalse();
    assertThat(p.next(arrived, now, MAX)).isEqualTo(arrived.plus(Duration.ofDays(5)));
    assertThat(p.expired(arrived, arrived.plus(Duration.ofDays(5)))).isTrue();
  }
}
