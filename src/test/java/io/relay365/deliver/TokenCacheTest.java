package io.relay365.deliver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.relay365.deliver.TokenSource.AccessToken;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class TokenCacheTest {
  private static final Duration HOUR = Duration.ofSeconds(3599);

  private final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
  private final FakeSource source = new FakeSource();
  private final TokenCache cache = new TokenCache(source, clock);
  private final ExecutorService pool = Executors.newFixedThreadPool(16);

  @AfterEach
  void stop() {
    pool.shutdownNow();
  }

  /** Each fetch() returns a pending future the test completes by hand. */
  final class FakeSource implements TokenSource {
    final ConcurrentLinkedQueue<CompletableFuture<AccessToken>> pending = new ConcurrentLinkedQueue<>();
    final AtomicInteger calls = new AtomicInteger();

    @Override
    public CompletableFuture<AccessToken> fetch() {
      calls.incrementAndGet();
      CompletableFuture<AccessToken> f = new CompletableFuture<>();
      pending.add(f);
      return f;
    }

    void succeed(String value, Duration lifetime) {
      pending.remove().complete(new AccessToken(value, clock.instant().plus(lifetime)));
    }

    void fail(Exception e) {
      pending.remove().completeExceptionally(e);
    }
  }

  private static TokenException transientError() {
    return new TokenException("HTTP 503", null, null, 503, Outcome.Kind.TRANSIENT, null, null);
  }

  @Test
  void hundredConcurrentCallersShareOneFetch() throws Exception {
    CountDownLatch start = new CountDownLatch(1);
    List<Future<CompletableFuture<String>>> calls = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      calls.add(pool.submit(() -> {
        start.await();
        return cache.token();
      }));
    }
    start.countDown();
    List<CompletableFuture<String>> tokens = new ArrayList<>();
    for (Future<CompletableFuture<String>> c : calls) {
      tokens.add(c.get(10, TimeUnit.SECONDS));
    }
    assertThat(source.calls.get()).isEqualTo(1);
    assertThat(tokens).allMatch(t -> !t.isDone());

    source.succeed("t1", HOUR);

    for (CompletableFuture<String> t : tokens) {
      assertThat(t.get(5, TimeUnit.SECONDS)).isEqualTo("t1");
    }
    assertThat(cache.token().get()).isEqualTo("t1");
    assertThat(cache.fetches()).isEqualTo(1);
    assertThat(source.calls.get()).isEqualTo(1);
  }

  @Test
  void refreshesAheadWhileCallersKeepTheCurrentToken() throws Exception {
    cache.token();
    source.succeed("t1", HOUR);

    clock.advance(Duration.ofMinutes(47)); // before 80% of 3599 s
    assertThat(cache.token().get()).isEqualTo("t1");
    assertThat(source.calls.get()).isEqualTo(1);

    clock.advance(Duration.ofMinutes(2)); // past 80%: refresh starts, callers do not wait for it
    CompletableFuture<String> during = cache.token();
    assertThat(during).isCompletedWithValue("t1");
    assertThat(cache.token()).isCompletedWithValue("t1");
    assertThat(source.calls.get()).as("one refresh, not one per caller").isEqualTo(2);

    source.succeed("t2", HOUR);
    assertThat(cache.token()).isCompletedWithValue("t2");
  }

  @Test
  void refreshPointIsEightyPercentOrFiveMinutesBeforeExpiry() {
    Instant issued = Instant.parse("2026-01-01T00:00:00Z");
    // 24 h token: 80% (19 h 12 min) comes first
    assertThat(TokenCache.refreshPoint(issued, issued.plus(Duration.ofHours(24))))
        .isEqualTo(issued.plus(Duration.ofMinutes(1152)));
    // 1 h token: 80% (48 min) comes before expiry - 5 min (55 min)
    assertThat(TokenCache.refreshPoint(issued, issued.plus(Duration.ofHours(1))))
        .isEqualTo(issued.plus(Duration.ofMinutes(48)));
    // 20 min token: expiry - 5 min (15 min) comes before 80% (16 min)
    assertThat(TokenCache.refreshPoint(issued, issued.plus(Duration.ofMinutes(20))))
        .isEqualTo(issued.plus(Duration.ofMinutes(15)));
  }

  @Test
  void failedRefreshKeepsTheValidTokenAndRetriesOnlyAfterBackoff() throws Exception {
    cache.token();
    source.succeed("t1", HOUR);
    clock.advance(Duration.ofMinutes(50));

    assertThat(cache.token()).isCompletedWithValue("t1");
    source.fail(transientError());
    assertThat(cache.failures()).isEqualTo(1);

    // still valid: keep serving it, and do not retry at once
    for (int i = 0; i < 10; i++) {
      assertThat(cache.token()).isCompletedWithValue("t1");
    }
    assertThat(source.calls.get()).isEqualTo(2);

    clock.advance(TokenCache.backoff(1));
    assertThat(cache.token()).isCompletedWithValue("t1");
    assertThat(source.calls.get()).as("retried after the backoff").isEqualTo(3);
    source.succeed("t2", HOUR);
    assertThat(cache.token()).isCompletedWithValue("t2");
  }

  @Test
  void afterExpiryCallersWaitForTheFetch() throws Exception {
    cache.token();
    source.succeed("t1", HOUR);
    clock.advance(HOUR);

    CompletableFuture<String> waiting = cache.token();
    assertThat(waiting).isNotDone();
    source.succeed("t2", HOUR);
    assertThat(waiting.get(5, TimeUnit.SECONDS)).isEqualTo("t2");
  }

  @Test
  void failureWithoutTokenReachesWaitersThenFailsFastDuringBackoff() {
    CompletableFuture<String> a = cache.token();
    CompletableFuture<String> b = cache.token();
    TokenException config = new TokenException("bad secret", "AADSTS7000215", "invalid_client", 401,
        Outcome.Kind.CONFIGURATION, "hint", null);
    source.fail(config);

    assertThatThrownBy(a::get).isInstanceOf(ExecutionException.class).hasCause(config);
    assertThatThrownBy(b::get).isInstanceOf(ExecutionException.class).hasCause(config);

    // no hammering the endpoint: inside the backoff the same failure comes back without a request
    assertThatThrownBy(() -> cache.token().get()).hasCause(config);
    assertThat(source.calls.get()).isEqualTo(1);

    clock.advance(TokenCache.backoff(1));
    CompletableFuture<String> c = cache.token();
    assertThat(source.calls.get()).isEqualTo(2);
    source.succeed("t1", HOUR);
    assertThat(c).isCompletedWithValue("t1");
    assertThat(cache.failures()).isEqualTo(1);
  }

  @Test
  void backoffGrowsAndIsCapped() {
    assertThat(TokenCache.backoff(1)).isEqualTo(Duration.ofSeconds(1));
    assertThat(TokenCache.backoff(3)).isEqualTo(Duration.ofSeconds(4));
    assertThat(TokenCache.backoff(50)).isEqualTo(TokenCache.MAX_BACKOFF);
  }

  @Test
  void invalidateDropsOnlyTheCurrentToken() throws Exception {
    cache.token();
    source.succeed("t1", HOUR);

    cache.invalidate("stale-other");
    assertThat(cache.token()).isCompletedWithValue("t1");

    cache.invalidate("t1");
    CompletableFuture<String> next = cache.token();
    assertThat(next).isNotDone();
    cache.invalidate("t1"); // a second worker reporting the same token: no second fetch
    cache.token();
    assertThat(source.calls.get()).isEqualTo(2);
    source.succeed("t2", HOUR);
    assertThat(next).isCompletedWithValue("t2");
  }

  @Test
  void sourceThrowingSynchronouslyIsAFailureNotACrash() {
    TokenCache c = new TokenCache(() -> {
      throw new IllegalStateException("boom");
    }, clock);
    assertThatThrownBy(() -> c.token().get()).hasCauseInstanceOf(IllegalStateException.class);
    assertThat(c.failures()).isEqualTo(1);
  }

  @Test
  void accessTokenToStringHidesTheValue() {
    assertThat(new AccessToken("eyJsecret", Instant.EPOCH).toString()).doesNotContain("eyJsecret");
  }

  @Test
  void invalidateAllMakesTheNextCallFetchANewTokenEvenWithinItsLifetime() throws Exception {
    CompletableFuture<String> first = cache.token();
    source.succeed("before-the-grant", HOUR);
    assertThat(first.get(5, TimeUnit.SECONDS)).isEqualTo("before-the-grant");
    assertThat(cache.token().get(5, TimeUnit.SECONDS)).as("cached").isEqualTo("before-the-grant");

    cache.invalidateAll();
    CompletableFuture<String> next = cache.token();
    assertThat(source.calls.get()).isEqualTo(2);
    source.succeed("after-the-grant", HOUR);
    assertThat(next.get(5, TimeUnit.SECONDS)).isEqualTo("after-the-grant");
  }

}
