package io.relay365.deliver;

import io.relay365.deliver.TokenSource.AccessToken;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relay's one token cache, in front of a {@link TokenSource}.
 *
 * <p>Why our own and not msal4j's: msal4j has no single-flight (8 concurrent calls on an empty cache make
 * 8 token POSTs), refreshes synchronously on the caller once refresh_in has passed, throws instead of
 * returning a still-valid token when that refresh fails, and its cache misses every time when the
 * authority has a port (libraries.md §2). At start-up with many spooled messages all of that matters.
 *
 * <ul>
 *   <li>single-flight: at most one fetch in flight; every caller waiting for a token shares it;
 *   <li>refresh-ahead: once 80% of the lifetime has passed, or 5 minutes before expiry, whichever comes
 *       first, the next caller starts a background fetch and still gets the current token at once;
 *   <li>a failed refresh keeps the current token while it is valid; the next attempt waits for an
 *       exponential backoff (1 s doubling to 60 s) so nothing retries in a tight loop;
 *   <li>without a usable token callers wait for the fetch; inside the backoff after a failure they get
 *       that failure at once instead of hammering the endpoint (§1.4: a misconfiguration cannot
 *       succeed on retry until an administrator acts).
 * </ul>
 *
 * Thread-safe; no thread of its own: refreshes are started by callers and run on the source's executor.
 */
public final class TokenCache {
  private static final Logger LOG = LoggerFactory.getLogger(TokenCache.class);

  /** A token this close to expiry is not handed out: it could expire while the EWS request is in flight. */
  static final Duration EXPIRY_MARGIN = Duration.ofSeconds(30);
  static final Duration REFRESH_BEFORE_EXPIRY = Duration.ofMinutes(5);
  static final Duration MIN_BACKOFF = Duration.ofSeconds(1);
  static final Duration MAX_BACKOFF = Duration.ofSeconds(60);

  private final TokenSource source;
  private final Clock clock;
  private final Object lock = new Object();
  private final AtomicLong fetches = new AtomicLong();
  private final AtomicLong failures = new AtomicLong();

  // all guarded by lock
  private AccessToken current;
  private Instant refreshAt;
  private CompletableFuture<AccessToken> inflight;
  private Throwable lastFailure;
  private int failuresInRow;
  private Instant nextAttempt = Instant.MIN;

  public TokenCache(TokenSource source, Clock clock) {
    this.source = source;
    this.clock = clock;
  }

  public TokenCache(TokenSource source) {
    this(source, Clock.systemUTC());
  }

  /**
   * A usable bearer token: at once if a valid one is cached, else when the (shared) fetch completes.
   * Fails with the source's exception (usually a {@link TokenException}; {@code get()} reports it as
   * the ExecutionException's cause, {@code join()} may wrap it in a CompletionException). Callers should
   * bound their wait.
   */
  public CompletableFuture<String> token() {
    CompletableFuture<AccessToken> wait;
    synchronized (lock) {
      Instant now = clock.instant();
      if (current != null && usable(current, now)) {
        if (!now.isBefore(refreshAt) && inflight == null && !now.isBefore(nextAttempt)) {
          LOG.debug("refreshing the access token ahead of expiry ({})", current.expiresOn());
          startFetch(now);
        }
        return CompletableFuture.completedFuture(current.value());
      }
      wait = inflight;
      if (wait == null) {
        if (lastFailure != null && now.isBefore(nextAttempt)) {
          return CompletableFuture.failedFuture(lastFailure);
        }
        wait = startFetch(now);
      }
    }
    return wait.thenApply(AccessToken::value);
  }

  /**
   * Drops {@code token} if it is still the cached one (e.g. EWS answered 401 invalid_token), so the
   * next {@link #token()} fetches a new one. A token that was already replaced is ignored, so that many
   * workers reporting the same stale token cause one fetch, not many.
   */
  public void invalidate(String token) {
    synchronized (lock) {
      if (current != null && current.value().equals(token)) {
        LOG.info("access token rejected by the server; fetching a new one");
        current = null;
        refreshAt = null;
        // a rejected token is not the endpoint's failure: allow a fetch at once
        nextAttempt = Instant.MIN;
        lastFailure = null;
      }
    }
  }

  /**
   * Drops whatever token is cached, for "the administrator fixed something" (queue retry --all): a
   * permission granted or a policy changed since the token was issued only shows in a new token, and
   * a 403 does not make the server reject the old one as a 401 would.
   */
  public void invalidateAll() {
    synchronized (lock) {
      if (current != null) {
        LOG.info("dropping the cached access token: the next delivery fetches a new one");
      }
      current = null;
      refreshAt = null;
      nextAttempt = Instant.MIN;
      lastFailure = null;
    }
  }

  /** Token requests started so far. */
  public long fetches() {
    return fetches.get();
  }

  /** Token requests that failed so far. */
  public long failures() {
    return failures.get();
  }

  private boolean usable(AccessToken t, Instant now) {
    return now.isBefore(t.expiresOn().minus(EXPIRY_MARGIN));
  }

  // called with lock held; returns the shared future (which a synchronous source may already have completed)
  private CompletableFuture<AccessToken> startFetch(Instant startedAt) {
    fetches.incrementAndGet();
    CompletableFuture<AccessToken> shared = new CompletableFuture<>();
    inflight = shared;
    CompletableFuture<AccessToken> f;
    try {
      f = source.fetch();
    } catch (RuntimeException e) {
      f = CompletableFuture.failedFuture(e);
    }
    f.whenComplete((t, e) -> {
      Throwable failure = e != null ? unwrap(e) : t == null ? new IllegalStateException("no token") : null;
      synchronized (lock) {
        inflight = null;
        Instant now = clock.instant();
        if (failure == null) {
          current = t;
          refreshAt = refreshPoint(startedAt, t.expiresOn());
          lastFailure = null;
          failuresInRow = 0;
          nextAttempt = Instant.MIN;
        } else {
          failures.incrementAndGet();
          lastFailure = failure;
          failuresInRow++;
          nextAttempt = now.plus(backoff(failuresInRow));
          if (current != null && usable(current, now)) {
            LOG.warn("refreshing the access token failed; keeping the current one until {}: {}",
                current.expiresOn(), failure.getMessage());
          }
        }
      }
      // complete outside the lock: dependents run on this thread
      if (failure == null) {
        shared.complete(t);
      } else {
        shared.completeExceptionally(failure);
      }
    });
    return shared;
  }

  /** 80% of the lifetime or 5 minutes before expiry, whichever comes first, but not before half of it. */
  static Instant refreshPoint(Instant issued, Instant expiresOn) {
    Duration lifetime = Duration.between(issued, expiresOn);
    if (lifetime.isNegative()) {
      return issued;
    }
    Instant at80 = issued.plus(lifetime.multipliedBy(8).dividedBy(10));
    Instant before = expiresOn.minus(REFRESH_BEFORE_EXPIRY);
    Instant half = issued.plus(lifetime.dividedBy(2));
    Instant earliest = at80.isBefore(before) ? at80 : before;
    return earliest.isBefore(half) ? half : earliest;
  }

  static Duration backoff(int failuresInRow) {
    Duration d = MIN_BACKOFF.multipliedBy(1L << Math.min(failuresInRow - 1, 16));
    return d.compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : d;
  }

  static Throwable unwrap(Throwable e) {
    while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
      e = e.getCause();
    }
    return e;
  }
}
