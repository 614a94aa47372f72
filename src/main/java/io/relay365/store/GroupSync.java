package io.relay365.store;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Group commit of one directory's fsync: changes made by several threads at about the same time (renames
 * into queue/ by concurrent SMTP sessions and deliveries) share one fsync instead of one each.
 *
 * <p>A thread takes a {@link #ticket} after its change, then {@link #await}s it. The first waiter runs
 * the fsync (the leader); those who took a ticket before the leader started are covered by it and return
 * when it completes; those who came later wait for the next one, which the first of them runs. Nobody
 * returns without a successful fsync that started after their change: if the fsync fails, the leader
 * throws, and each waiter that is not yet covered tries again itself (and, on a dead disk, throws too).
 *
 * <p>Besides sharing the disk flush, this matters on ext4 without a journal: its directory fsync holds
 * the directory's lock while it writes, so every fsync of queue/ stalls every rename in queue/.
 */
final class GroupSync {
  private final Path dir;
  private final FileOps ops;
  private long issued;
  private long durable;
  private boolean running;

  GroupSync(Path dir, FileOps ops) {
    this.dir = dir;
    this.ops = ops;
  }

  /** Call right after changing the directory; {@link #await} with the result makes the change durable. */
  synchronized long ticket() {
    return ++issued;
  }

  /** Returns once an fsync of the directory that started after {@code ticket} was taken has completed. */
  void await(long ticket) throws IOException {
    long upTo;
    synchronized (this) {
      while (true) {
        if (durable >= ticket) {
          return;
        }
        if (!running) {
          break;
        }
        try {
          wait();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted while waiting for the fsync of " + dir, e);
        }
      }
      running = true;
      upTo = issued; // every change with a ticket up to here happened before this fsync starts
    }
    boolean ok = false;
    try {
      ops.forceDir(dir);
      ok = true;
    } finally {
      synchronized (this) {
        running = false;
        if (ok) {
          durable = Math.max(durable, upTo);
        }
        notifyAll();
      }
    }
  }
}
