package io.relay365.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The spool's group commit: sync, renames, directory sync, in that order, one round for the commits that wait together. */
class CommitRoundsTest {

  @Test
  void commitsArrivingDuringARoundShareTheNextAndEachRoundSyncsThenRenamesThenSyncsTheDirectories()
      throws Exception {
    List<String> steps = new CopyOnWriteArrayList<>();
    CountDownLatch firstSyncing = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger syncs = new AtomicInteger();
    CommitRounds rounds = new CommitRounds(() -> {
      steps.add("syncfs");
      if (syncs.incrementAndGet() == 1) {
        firstSyncing.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          throw new IOException(e);
        }
      }
    }, () -> steps.add("fsync dirs"));
    ExecutorService pool = Executors.newFixedThreadPool(9);
    try {
      Future<?> first = pool.submit(() -> {
        rounds.commit(() -> steps.add("rename 0"));
        return null;
      });
      firstSyncing.await();
      List<Future<?>> later = new ArrayList<>();
      for (int i = 1; i <= 8; i++) {
        int n = i;
        later.add(pool.submit(() -> {
          rounds.commit(() -> steps.add("rename " + n));
          return null;
        }));
      }
      await().atMost(Duration.ofSeconds(10)).until(() -> rounds.pendingForTest() == 8);
      assertThat(later).as("not covered by the sync that started before them").noneMatch(Future::isDone);
      release.countDown();
      first.get();
      for (Future<?> f : later) {
        f.get();
      }
      assertThat(rounds.stats()).containsExactly(2L, 9L);
      assertThat(steps.subList(0, 3)).containsExactly("syncfs", "rename 0", "fsync dirs");
      assertThat(steps.get(3)).isEqualTo("syncfs");
      assertThat(steps.subList(4, 12)).allMatch(s -> s.startsWith("rename "));
      assertThat(steps.get(12)).isEqualTo("fsync dirs");
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aFailedSyncFailsTheRoundAndAFailedRenameOnlyItsOwner() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    List<String> renamed = new ArrayList<>();
    CommitRounds rounds = new CommitRounds(() -> {
      if (calls.incrementAndGet() == 1) {
        throw new IOException("injected: disk full");
      }
    }, () -> { });
    assertThatThrownBy(() -> rounds.commit(() -> renamed.add("a"))).hasMessageContaining("disk full");
    assertThat(renamed).as("nothing renamed before its files are durable").isEmpty();
    assertThatThrownBy(() -> rounds.commit(() -> {
      throw new IOException("injected: rename");
    })).hasMessageContaining("rename");
    rounds.commit(() -> renamed.add("b"));
    assertThat(renamed).containsExactly("b");
  }
}
