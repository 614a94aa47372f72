package io.relay365.receive;

import java.net.InetAddress;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Slows down password guessing per client address: after a failed AUTH, every AUTH from that address
 * first waits {@code base}, doubling with each further failure up to {@link #MAX_DELAY}; the record is
 * forgotten {@link #FORGET_AFTER} after the last failure or at a success. The wait happens before the
 * password is checked, so a client cannot learn the answer sooner by hanging up. Parallel guessing is
 * bounded by smtp.max-connections-per-client.
 */
final class AuthThrottle {
  static final Duration MAX_DELAY = Duration.ofSeconds(30);
  static final Duration FORGET_AFTER = Duration.ofMinutes(15);
  /** Beyond this many addresses, forgotten records are pruned (bounded memory under address spraying). */
  private static final int PRUNE_AT = 10_000;

  private record Failures(int count, long lastNanos) {}

  private final Duration base;
  private final Map<InetAddress, Failures> failures = new ConcurrentHashMap<>();

  AuthThrottle(Duration base) {
    this.base = base;
  }

  /** The wait before the next AUTH from this address is checked. */
  Duration delay(InetAddress client) {
    Failures f = failures.get(client);
    if (f == null || System.nanoTime() - f.lastNanos() > FORGET_AFTER.toNanos()) {
      return Duration.ZERO;
    }
    int doublings = Math.min(f.count() - 1, 20);
    Duration d = base.multipliedBy(1L << doublings);
    return d.compareTo(MAX_DELAY) > 0 ? MAX_DELAY : d;
  }

  void pause(InetAddress client) {
    long ms = delay(client).toMillis();
    if (ms > 0) {
      try {
        Thread.sleep(ms); // deliberate: this session's own thread waits, nobody else does
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  void failed(InetAddress client) {
    long now = System.nanoTime();
    failures.merge(client, new Failures(1, now), (old, one) ->
        now - old.lastNanos() > FORGET_AFTER.toNanos() ? one : new Failures(old.count() + 1, now));
    if (failures.size() > PRUNE_AT) {
      for (Iterator<Failures> it = failures.values().iterator(); it.hasNext();) {
        if (now - it.next().lastNanos() > FORGET_AFTER.toNanos()) {
          it.remove();
        }
      }
    }
  }

  void succeeded(InetAddress client) {
    failures.remove(client);
  }
}
