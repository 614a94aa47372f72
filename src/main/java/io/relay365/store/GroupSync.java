package io.relay365.store;

import java.io.IOException;

/**
 * Group commit: one sync shared by every thread that asks for it at about the same time. A caller's
 * writes are covered by a sync that <em>starts</em> after its call, so each caller joins the next round
 * to start; while a round runs, the callers that arrive gather for the following one, and the first of
 * them to wake runs it for all. Under load one fsync (or syncfs) thus stands for many messages; alone, a
 * caller pays exactly one sync, with no added wait (nothing is held back to fill a batch).
 *
 * <p>A failed round fails every caller that joined it, so each one takes its own message back out and
 * answers 4xx; the next round starts afresh.
 */
final class GroupSync {
  /** The durable step a round performs (e.g. fsync of queue/ and tmp/, or syncfs of the spool's filesystem). */
  interface Action {
    void run() throws IOException;
  }

  private static final class Round {
    boolean done;
    IOException error;
    int members;
  }

  private final Action action;
  private Round open = new Round();   // the round that callers join now; starts when the running one ends
  private boolean running;
  private long rounds;
  private long members;

  GroupSync(Action action) {
    this.action = action;
  }

  /** Returns once a sync that started after this call has completed; throws its failure. */
  void sync() throws IOException {
    Round mine;
    boolean interrupted = false;
    synchronized (this) {
      mine = open;
      mine.members++;
      while (running && !mine.done) {
        try {
          wait();
        } catch (InterruptedException e) {
          // a commit cannot be abandoned half-way: the caller must learn whether its entry is durable
          interrupted = true;
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
      if (mine.done) {
        rethrow(mine);
        return;
      }
      running = true; // this caller leads the round it joined
      open = new Round();
    }
    IOException error = null;
    try {
      action.run();
    } catch (IOException e) {
      error = e;
    } catch (RuntimeException e) {
      error = new IOException(e.toString(), e);
    }
    synchronized (this) {
      mine.error = error;
      mine.done = true;
      running = false;
      rounds++;
      members += mine.members;
      notifyAll();
    }
    rethrow(mine);
  }

  /** Callers waiting for the round that has not started yet (tests). */
  synchronized int pendingForTest() {
    return open.members;
  }

  /** Rounds run so far and the callers they served (members ÷ rounds = the average batch). */
  synchronized long[] stats() {
    return new long[] {rounds, members};
  }

  private static void rethrow(Round r) throws IOException {
    if (r.error != null) {
      // each caller gets its own exception (with the round's failure as cause), so stack traces stay apart
      throw new IOException(r.error.getMessage(), r.error);
    }
  }
}
