package io.relay365.deliver;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Bounds the heap that messages in flight may use. ews-java-api holds the whole request in memory,
 * several times over (MIME → base64 String in UTF-16 → XML writer → byte array: libraries.md §4), so
 * eight parallel 24 MB scans would need well over 1 GB; a message streamed from the spool
 * ({@link SpooledMime}, above {@link EwsTransport#STREAM_ABOVE}) holds a few buffers, or its bytes and
 * the repaired copy when its body needs repairs. Each send first reserves an estimate of what it will
 * hold; a send that does not fit waits for others to finish instead of failing with OutOfMemoryError. A
 * message larger than the whole budget still goes, alone.
 */
final class MemoryBudget {
  /** Heap held per byte of MIME during an ews-java-api send (measured order of magnitude, rounded up). */
  static final int EWS_FACTOR = 7;
  /** Heap held per byte of a message cleaned in memory for the streamed request: original, repaired copy, slack. */
  static final int IN_MEMORY_FACTOR = 3;
  private static final int UNIT = 64 * 1024; // permits are 64 KiB, so int permits cover any heap

  private final int total;
  private final Semaphore permits;

  MemoryBudget(long bytes) {
    this.total = (int) Math.max(1, Math.min(Integer.MAX_VALUE, bytes / UNIT));
    this.permits = new Semaphore(total, true);
  }

  /** Half of the maximum heap: the rest is for the SMTP side, the spool and the JVM itself. */
  static MemoryBudget ofHeap() {
    return new MemoryBudget(Runtime.getRuntime().maxMemory() / 2);
  }

  /** Reserves room for {@code bytes}; false if it did not become free within the timeout. */
  Reservation reserve(long bytes, long timeoutMillis) throws InterruptedException {
    int want = (int) Math.min(total, Math.max(1, (bytes + UNIT - 1) / UNIT));
    if (!permits.tryAcquire(want, timeoutMillis, TimeUnit.MILLISECONDS)) {
      return null;
    }
    return () -> permits.release(want);
  }

  /** The whole budget, in bytes. */
  long bytes() {
    return (long) total * UNIT;
  }

  int available() {
    return permits.availablePermits();
  }

  /** Releases what {@link #reserve} took. */
  interface Reservation extends AutoCloseable {
    @Override
    void close();
  }
}
