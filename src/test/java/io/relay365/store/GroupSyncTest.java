package io.relay365.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class GroupSyncTest {
  private static final Path DIR = Paths.get("/spool/queue");

  /** Counts directory fsyncs; the first one blocks until released, and fails if told to. */
  private static final class SlowFirstSync implements FileOps {
    final CountDownLatch started = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    final AtomicInteger calls = new AtomicInteger();
    final AtomicInteger completed = new AtomicInteger();
    final boolean firstFails;

    SlowFirstSync(boolean firstFails) {
      this.firstFails = firstFails;
    }

    @Override
    public void forceDir(Path dir) throws IOException {
      assertThat(dir).isEqualTo(DIR);
      if (calls.incrementAndGet() == 1) {
        started.countDown();
        try {
          release.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          throw new IOException(e);
        }
        if (firstFails) {
          throw new IOException("EIO");
        }
      }
      completed.incrementAndGet();
    }

    @Override
    public FileChannel create(Path file) {
      throw new UnsupportedOperationException();
    }

    @Override
    public FileChannel reuse(Path file) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void write(FileChannel ch, ByteBuffer buf) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void force(FileChannel ch) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void move(Path from, Path to) {
      throw new UnsupportedOperationException();
    }
  }

  /** Starts a thread that takes a ticket and awaits it; the result is null on success, else the exception. */
  private static Thread waiter(GroupSync sync, AtomicReference<Throwable> result, List<Long> tickets) {
    long ticket = sync.ticket();
    tickets.add(ticket);
    Thread t = new Thread(() -> {
      try {
        sync.await(ticket);
      } catch (Throwable e) {
        result.set(e);
      }
    });
    t.start();
    return t;
  }

  @Test
  void changesMadeDuringAnFsyncShareTheNextOneInsteadOfOneEach() throws Exception {
    SlowFirstSync ops = new SlowFirstSync(false);
    GroupSync sync = new GroupSync(DIR, ops);
    List<Long> tickets = new ArrayList<>();
    AtomicReference<Throwable> leaderResult = new AtomicReference<>();
    Thread leader = waiter(sync, leaderResult, tickets);
    assertThat(ops.started.await(10, TimeUnit.SECONDS)).isTrue();

    // four more changes while the first fsync runs: it started before them, so it cannot cover them
    List<Thread> followers = new ArrayList<>();
    List<AtomicReference<Throwable>> results = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      AtomicReference<Throwable> r = new AtomicReference<>();
      results.add(r);
      followers.add(waiter(sync, r, tickets));
    }
    for (Thread t : followers) {
      await().atMost(Duration.ofSeconds(10)).until(() -> t.getState() == Thread.State.WAITING);
    }

    ops.release.countDown();
    leader.join(10_000);
    for (Thread t : followers) {
      t.join(10_000);
      assertThat(t.isAlive()).isFalse();
    }
    assertThat(leaderResult.get()).isNull();
    assertThat(results).allSatisfy(r -> assertThat(r.get()).isNull());
    assertThat(ops.calls.get()).as("one fsync for the first change, one shared by the four later ones").isEqualTo(2);
  }

  @Test
  void aFailedFsyncCoversNobodyAndTheWaitersFsyncAgain() throws Exception {
    SlowFirstSync ops = new SlowFirstSync(true);
    GroupSync sync = new GroupSync(DIR, ops);
    List<Long> tickets = new ArrayList<>();
    AtomicReference<Throwable> leaderResult = new AtomicReference<>();
    Thread leader = waiter(sync, leaderResult, tickets);
    assertThat(ops.started.await(10, TimeUnit.SECONDS)).isTrue();
    AtomicReference<Throwable> followerResult = new AtomicReference<>();
    Thread follower = waiter(sync, followerResult, tickets);
    await().atMost(Duration.ofSeconds(10)).until(() -> follower.getState() == Thread.State.WAITING);

    ops.release.countDown();
    leader.join(10_000);
    follower.join(10_000);

    assertThat(leaderResult.get()).isInstanceOf(IOException.class).hasMessage("EIO");
    assertThat(followerResult.get()).as("the follower returns only after an fsync of its own succeeded").isNull();
    assertThat(ops.calls.get()).isEqualTo(2);
    assertThat(ops.completed.get()).isEqualTo(1);
  }

  @Test
  void aTicketIsNotCoveredUntilAnFsyncThatStartedAfterItCompletes() throws Exception {
    SlowFirstSync ops = new SlowFirstSync(false);
    GroupSync sync = new GroupSync(DIR, ops);
    long first = sync.ticket();
    Thread leader = new Thread(() -> {
      try {
        sync.await(first);
      } catch (IOException e) {
        throw new AssertionError(e);
      }
    });
    leader.start();
    assertThat(ops.started.await(10, TimeUnit.SECONDS)).isTrue();
    long second = sync.ticket();
    ops.release.countDown();
    leader.join(10_000);

    assertThat(ops.calls.get()).isEqualTo(1);
    sync.await(first);
    assertThat(ops.calls.get()).as("the first change is covered: no fsync").isEqualTo(1);
    sync.await(second);
    assertThat(ops.calls.get()).as("the second came while the first fsync ran: one more").isEqualTo(2);
  }
}
