package io.relay365.deliver;

import java.time.Instant;
import java.util.concurrent.CompletableFuture;

/**
 * Where access tokens come from (msal4j in production, a fake in tests). One call = one request to
 * the token endpoint: caching and coalescing belong to {@link TokenCache}, not here.
 */
public interface TokenSource {

  /**
   * Requests a new token. Fails with a {@link TokenException} (possibly wrapped in a
   * CompletionException) for anything the token endpoint or the network did wrong.
   */
  CompletableFuture<AccessToken> fetch();

  /** A bearer token and its expiry. toString() never prints the token itself. */
  record AccessToken(String value, Instant expiresOn) {

    @Override
    public String toString() {
      return "AccessToken[expiresOn=" + expiresOn + ", value=***]";
    }
  }
}
