package io.relay365.sandbox;

import io.vertx.core.json.JsonObject;
import java.time.Duration;

/**
 * Fault injection for the sandbox's Microsoft Graph ({@link GraphEndpoint}); part of {@link Faults}
 * ({@code faults().graph()}, JSON key {@code "graph"} of {@code POST /_sandbox/faults}). Thread-safe.
 * Counted faults apply to the next {@code count} matching requests, then switch themselves off.
 *
 * <p>Faults of {@link Faults} that Graph honours too: {@link Faults#denyMailbox} (403 RAOP),
 * {@link Faults#unknownMailbox} (404 ErrorInvalidUser), {@link Faults#maxMessageSize} (MaxSendSize on
 * send) and {@link Faults#rolesInToken}.
 *
 * <p>Order on a Graph API request: {@link #error} (the front end, before anything) → latency → bearer
 * token → request size (413) → role → mailbox (403 RAOP, 404) → concurrency per mailbox (429) →
 * {@link #throttle} → the operation's own checks.
 */
public final class GraphFaults {
  /** Outlook's concurrency limit per app and mailbox on Graph (microsoft-wire.md §3). */
  public static final int DEFAULT_MAX_CONCURRENT = 4;

  /** The Graph requests a fault can aim at. */
  public enum Op {
    ANY("any"), SEND_MAIL("sendMail"), CREATE_DRAFT("createDraft"), ADD_ATTACHMENT("attachment"),
    CREATE_UPLOAD_SESSION("createUploadSession"), UPLOAD("upload"), SEND_DRAFT("send"), DELETE("delete"),
    PROBE("probe");

    final String key;

    Op(String key) {
      this.key = key;
    }

    static Op of(String key) {
      for (Op o : values()) {
        if (o.key.equalsIgnoreCase(key) || o.name().equalsIgnoreCase(key)) {
          return o;
        }
      }
      throw new IllegalArgumentException("unknown Graph operation " + key + "; use any, sendMail, createDraft,"
          + " attachment, createUploadSession, upload, send, delete or probe");
    }

    boolean matches(Op actual) {
      return this == ANY || this == actual;
    }
  }

  /** An injected answer: HTTP status, Graph error code (null = the usual one for the status), Retry-After. */
  record Error(Op on, int status, String code, Integer retryAfterSeconds, int remaining) {}

  private Error error;
  private Error throttle;
  private Duration latency = Duration.ZERO;
  private int maxConcurrentPerMailbox = DEFAULT_MAX_CONCURRENT;

  /**
   * The next {@code count} Graph requests of kind {@code on} answer {@code status} with a Graph error body
   * ({@code code}, or the usual code for that status when null) and {@code Retry-After} when not null;
   * e.g. 503 serviceNotAvailable, 504, 500, 401 InvalidAuthenticationToken, 400
   * ErrorMimeContentInvalidBase64String. The upload URL is answered by this fault too when {@code on}
   * is {@link Op#UPLOAD}.
   */
  public synchronized GraphFaults error(Op on, int status, String code, Integer retryAfterSeconds, int count) {
    error = count > 0 ? new Error(on, status, code, retryAfterSeconds, count) : null;
    return this;
  }

  /** As {@link #error(Op, int, String, Integer, int)} for any Graph API request. */
  public GraphFaults error(int status, int count) {
    return error(Op.ANY, status, null, null, count);
  }

  /**
   * The next {@code count} Graph API requests of kind {@code on} are throttled: 429 TooManyRequests with
   * {@code Retry-After: retryAfterSeconds} and the body of microsoft-wire.md §3.
   */
  public synchronized GraphFaults throttle(Op on, int retryAfterSeconds, int count) {
    throttle = count > 0 ? new Error(on, 429, "TooManyRequests", retryAfterSeconds, count) : null;
    return this;
  }

  /** Delay of every Graph API reply, counted from the request's arrival. */
  public synchronized GraphFaults latency(Duration d) {
    latency = d == null ? Duration.ZERO : d;
    return this;
  }

  /** Concurrent Graph API requests per mailbox above which 429 ApplicationThrottled is answered (default 4). */
  public synchronized GraphFaults maxConcurrentPerMailbox(int max) {
    maxConcurrentPerMailbox = max;
    return this;
  }

  synchronized void reset() {
    error = null;
    throttle = null;
    latency = Duration.ZERO;
    maxConcurrentPerMailbox = DEFAULT_MAX_CONCURRENT;
  }

  // ---- used by the endpoint --------------------------------------------------------------------

  synchronized Error takeError(Op op) {
    if (error == null || !error.on().matches(op)) {
      return null;
    }
    Error e = error;
    error = e.remaining() <= 1 ? null : new Error(e.on(), e.status(), e.code(), e.retryAfterSeconds(),
        e.remaining() - 1);
    return e;
  }

  synchronized Error takeThrottle(Op op) {
    if (throttle == null || !throttle.on().matches(op)) {
      return null;
    }
    Error e = throttle;
    throttle = e.remaining() <= 1 ? null : new Error(e.on(), e.status(), e.code(), e.retryAfterSeconds(),
        e.remaining() - 1);
    return e;
  }

  synchronized Duration latency() {
    return latency;
  }

  synchronized int maxConcurrent() {
    return maxConcurrentPerMailbox;
  }

  // ---- JSON form ---------------------------------------------------------------------------------

  synchronized JsonObject toJson() {
    JsonObject j = new JsonObject();
    if (error != null) {
      j.put("error", json(error));
    }
    if (throttle != null) {
      j.put("throttle", json(throttle));
    }
    j.put("latencyMillis", latency.toMillis());
    j.put("maxConcurrentPerMailbox", maxConcurrentPerMailbox);
    return j;
  }

  private static JsonObject json(Error e) {
    return new JsonObject().put("on", e.on().key).put("status", e.status()).put("code", e.code())
        .put("retryAfterSeconds", e.retryAfterSeconds()).put("count", e.remaining());
  }

  /**
   * Applies {@code {"error":{"status":503,"code":"serviceNotAvailable","retryAfterSeconds":5,"count":1,
   * "on":"sendMail"},"throttle":{"retryAfterSeconds":2,"count":1,"on":"any"},"latencyMillis":0,
   * "maxConcurrentPerMailbox":4}}}; absent keys are left unchanged.
   */
  synchronized void apply(JsonObject j) {
    JsonObject o;
    if ((o = j.getJsonObject("error")) != null) {
      error(Op.of(o.getString("on", "any")), o.getInteger("status"), o.getString("code"),
          o.getInteger("retryAfterSeconds"), o.getInteger("count", 1));
    }
    if ((o = j.getJsonObject("throttle")) != null) {
      throttle(Op.of(o.getString("on", "any")), o.getInteger("retryAfterSeconds", 1), o.getInteger("count", 1));
    }
    if (j.containsKey("latencyMillis")) {
      latency(Duration.ofMillis(j.getLong("latencyMillis")));
    }
    if (j.containsKey("maxConcurrentPerMailbox")) {
      maxConcurrentPerMailbox(j.getInteger("maxConcurrentPerMailbox"));
    }
  }

  @Override
  public synchronized String toString() {
    return "GraphFaults" + toJson().encode();
  }
}
