package io.relay365.store;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Group commit of spool entries: sessions that commit at about the same time share one round of
 * <ol>
 *   <li>one syncfs of the spool's filesystem (every member's message.eml, envelope.json and tmp/&lt;id&gt;/;
 *       skipped where each member fsynced its own files before joining, see {@link FileSystemSync}),</li>
 *   <li>each member's rename tmp/&lt;id&gt; → queue/&lt;id&gt;, the commit marker, in order,</li>
 *   <li>one fsync of queue/ and one of tmp/, which make every rename of the round durable.</li>
 * </ol>
 * A member's writes are covered by a round that <em>starts</em> after it joins, so it joins the next round
 * to start; while a round runs, arriving members gather for the following one, and the first of them to
 * wake runs it for all. Alone, a session pays exactly one round with no added wait (nothing is held back
 * to fill a batch); under load one round serves many. A failed step fails the members it concerns (a
 * sync: all of them), each of which then takes its entry back out and answers 4xx.
 */
final class CommitRounds {
  /** The one step that is a member's own: its atomic rename into queue/. */
  interface Rename {
    void run() throws IOException;
  }

  /** The shared steps of a round, from the spool's FileOps. */
  interface Step {
    void run() throws IOException;
  }

  private static final class Member {
    final Rename rename;
    IOException error;

    Member(Rename rename) {
      this.rename = rename;
    }
  }

  private static final class Round {
    final List<Member> members = new ArrayList<>();
    boolean done;
  }

  private final Step syncEntries; // null: the members made their own files durable
  private final Step syncNames;
  private Round open = new Round();
  private boolean running;
  private long rounds;
  private long served;

  CommitRounds(Step syncEntries, Step syncNames) {
    this.syncEntries = syncEntries;
    this.syncNames = syncNames;
  }

  /** Returns once {@code rename} has run in a round and the round's syncs succeeded; else throws. */
  void commit(Rename rename) throws IOException {
    Member me = new Member(rename);
    Round mine;
    boolean interrupted = false;
    synchronized (this) {
      mine = open;
      mine.members.add(me);
      while (running && !mine.done) {
        try {
          wait();
        } catch (InterruptedException e) {
          interrupted = true; // a commit cannot be abandoned half-way: its caller must learn the outcome
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
      if (!mine.done) {
        running = true; // this member leads the round it joined
        open = new Round();
      }
    }
    if (!mine.done) {
      run(mine);
    }
    if (me.error != null) {
      throw new IOException(me.error.getMessage(), me.error);
    }
  }

  private void run(Round round) {
    List<Member> members;
    synchronized (this) {
      members = List.copyOf(round.members); // no one joins a round once it runs
    }
    try {
      if (syncEntries != null) {
        syncEntries.run();
      }
      for (Member m : members) {
        try {
          m.rename.run();
        } catch (IOException | RuntimeException e) {
          m.error = e instanceof IOException io ? io : new IOException(e.toString(), e);
        }
      }
      syncNames.run();
    } catch (IOException | RuntimeException e) {
      IOException failure = e instanceof IOException io ? io : new IOException(e.toString(), e);
      for (Member m : members) {
        if (m.error == null) {
          m.error = failure;
        }
      }
    } finally {
      synchronized (this) {
        round.done = true;
        running = false;
        rounds++;
        served += members.size();
        notifyAll();
      }
    }
  }

  /** {rounds, members served}: members ÷ rounds is the average batch. */
  synchronized long[] stats() {
    return new long[] {rounds, served};
  }

  /** Members waiting for the round that has not started yet (tests). */
  synchronized int pendingForTest() {
    return open.members.size();
  }
}
