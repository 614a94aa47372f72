package io.relay365.deliver;

import static org.assertj.core.api.Assertions.assertThat;

import jakarta.mail.Session;
import java.time.Duration;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/** The per-mailbox session pool: how many sessions a mailbox may have, which idle one is reused, which are closed. */
class SmtpConnectionsTest {
  final Session session = Session.getInstance(new Properties());

  /** A session (never connected) last used {@code idle} ago. */
  SmtpConnection idleFor(String mailbox, Duration idle) {
    SmtpConnection c = new SmtpConnection(session, mailbox, "t");
    c.lastUsed = System.nanoTime() - idle.toNanos();
    return c;
  }

  @Test
  void aMailboxNeverHasMoreSessionsThanItsSlotsWhileOthersHaveTheirOwn() throws Exception {
    SmtpConnections pool = new SmtpConnections(2);
    assertThat(pool.acquire("A@contoso.example", 0)).isTrue();
    assertThat(pool.acquire("a@contoso.example", 0)).as("case-insensitive").isTrue();
    assertThat(pool.acquire("a@contoso.example", 50)).isFalse();
    assertThat(pool.acquire("b@contoso.example", 0)).isTrue();
    pool.release("a@contoso.example");
    assertThat(pool.acquire("a@contoso.example", 0)).isTrue();
  }

  @Test
  void theMostRecentlyUsedIdleSessionIsReusedSoThatExtraOnesAgeOut() {
    SmtpConnections pool = new SmtpConnections(3);
    SmtpConnection older = idleFor("a@contoso.example", Duration.ofSeconds(20));
    SmtpConnection newer = idleFor("a@contoso.example", Duration.ofSeconds(1));
    pool.putIdle(older);
    pool.putIdle(newer);
    assertThat(pool.takeIdle("A@contoso.example")).isSameAs(newer);
    assertThat(pool.takeIdle("b@contoso.example")).isNull();
    assertThat(pool.idleCount()).isEqualTo(1);
  }

  @Test
  void sessionsIdleTooLongOrTooOldAreHandedOutForClosing() {
    SmtpConnections pool = new SmtpConnections(3);
    SmtpConnection stale = idleFor("a@contoso.example", Duration.ofSeconds(31));
    SmtpConnection fresh = idleFor("a@contoso.example", Duration.ofSeconds(1));
    SmtpConnection old = idleFor("b@contoso.example", Duration.ZERO);
    pool.putIdle(stale);
    pool.putIdle(fresh);
    pool.putIdle(old);
    long now = System.nanoTime();
    assertThat(pool.expired(now, Duration.ofSeconds(30).toNanos(), Duration.ofMinutes(10).toNanos()))
        .containsExactly(stale);
    // a session older than the maximum age goes even if it was just used
    assertThat(pool.expired(now + Duration.ofMinutes(11).toNanos(), Duration.ofHours(1).toNanos(),
        Duration.ofMinutes(10).toNanos())).containsExactlyInAnyOrder(fresh, old);
    assertThat(pool.idleCount()).isZero();
  }
}
