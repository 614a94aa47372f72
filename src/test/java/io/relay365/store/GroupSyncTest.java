package io.relay365.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The group commit's two rules: a caller is covered by a sync that started after its call; one sync serves many. */
class GroupSyncTest {

  @Test
  void callersArrivingDuringASyncShareTheNextOneAndNoneIsCoveredByAnEarlierOne() throws Exception {
    CountDownLatch firstStarted = new CountDownLatch(1);
    CountDownLatch releaseFirst = new CountDownLatch(1);
    AtomicInteger syncs = new AtomicInteger();
    GroupSync group = new GroupSync(() -> {
      if (syncs.incrementAndGet() == 1) {
        firstStarted.countDown();
        try {
          releaseFirst.await();
        } catch (InterruptedException e) {
          throw new IOException(e);
        }
      }
    });
    ExecutorService pool = Executors.newFixedThreadPool(9);
    try {
      Future<?> first = pool.submit(() -> {
        group.sync();
        return null;
      });
      firstStarted.await();
      // eight callers arrive while the first sync runs: their writes came after it started
      List<Future<?>> later = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        later.add(pool.submit(() -> {
          group.sync();
          return null;
        }));
      }
      await().atMost(Duration.ofSeconds(10)).until(() -> group.pendingForTest() == 8);
      assertThat(later).noneMatch(Future::isDone); // not released by the sync that began before them
      releaseFirst.countDown();
      first.get();
      for (Future<?> f : later) {
        f.get();
      }
      assertThat(syncs.get()).as("one more sync for all eight").isEqualTo(2);
      assertThat(group.stats()).containsExactly(2L, 9L);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aFailedSyncFailsEveryCallerOfThatRoundAndTheNextRoundStartsAfresh() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    GroupSync group = new GroupSync(() -> {
      if (calls.incrementAndGet() == 1) {
        throw new IOException("injected: disk full");
      }
    });
    assertThatThrownBy(group::sync).isInstanceOf(IOException.class).hasMessageContaining("disk full");
    group.sync(); // no exception: a new round, a new sync
    assertThat(calls.get()).isEqualTo(2);
  }
}
