package io.relay365.deliver;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Authenticated SMTP sessions kept per sending mailbox, so that a burst of mail from one device does not
 * pay for TCP, TLS and AUTH per message. A worker first takes one of the mailbox's slots (at most
 * {@code perMailbox} sessions of one mailbox exist at once, idle or busy), then an idle session of that
 * mailbox if there is one. Idle sessions are handed out most recently used first, so that extra ones age
 * out and are closed by {@link #expired}.
 */
final class SmtpConnections {
  private final int perMailbox;
  private final Map<String, Semaphore> slots = new ConcurrentHashMap<>();
  private final Map<String, ArrayDeque<SmtpConnection>> idle = new HashMap<>(); // guarded by this

  SmtpConnections(int perMailbox) {
    this.perMailbox = Math.max(1, perMailbox);
  }

  int perMailbox() {
    return perMailbox;
  }

  /** Waits up to {@code timeoutMillis} for a slot of {@code mailbox}; false if none became free. */
  boolean acquire(String mailbox, long timeoutMillis) throws InterruptedException {
    return slots.computeIfAbsent(key(mailbox), k -> new Semaphore(perMailbox, true))
        .tryAcquire(timeoutMillis, TimeUnit.MILLISECONDS);
  }

  void release(String mailbox) {
    slots.get(key(mailbox)).release();
  }

  /** The most recently used idle session of {@code mailbox}, or null. */
  synchronized SmtpConnection takeIdle(String mailbox) {
    ArrayDeque<SmtpConnection> q = idle.get(key(mailbox));
    return q == null ? null : q.pollLast();
  }

  synchronized void putIdle(SmtpConnection c) {
    idle.computeIfAbsent(key(c.mailbox), k -> new ArrayDeque<>()).addLast(c);
  }

  /** Removes and returns the idle sessions unused for {@code idleNanos} or older than {@code maxAgeNanos}. */
  synchronized List<SmtpConnection> expired(long now, long idleNanos, long maxAgeNanos) {
    List<SmtpConnection> out = new ArrayList<>();
    for (Iterator<ArrayDeque<SmtpConnection>> it = idle.values().iterator(); it.hasNext(); ) {
      ArrayDeque<SmtpConnection> q = it.next();
      q.removeIf(c -> {
        boolean old = now - c.lastUsed >= idleNanos || now - c.opened >= maxAgeNanos;
        if (old) {
          out.add(c);
        }
        return old;
      });
      if (q.isEmpty()) {
        it.remove();
      }
    }
    return out;
  }

  /** Removes and returns every idle session. */
  synchronized List<SmtpConnection> drain() {
    List<SmtpConnection> out = new ArrayList<>();
    idle.values().forEach(out::addAll);
    idle.clear();
    return out;
  }

  synchronized int idleCount() {
    return idle.values().stream().mapToInt(ArrayDeque::size).sum();
  }

  private static String key(String mailbox) {
    return mailbox.toLowerCase(Locale.ROOT);
  }
}
