package io.relay365.deliver;

import java.time.Duration;

/**
 * The result of one delivery attempt, classified so that the queue never has to parse error strings
 * (chasquid's Courier returns (err, permanent) for the same reason).
 *
 * @param kind       what the queue should do with the message
 * @param code       the upstream code: an EWS ResponseCode ("ErrorServerBusy"), "HTTP 503",
 *                   an AADSTS code ("AADSTS7000215"), or a short local name ("timeout", "connect")
 * @param detail     one line for the log, never containing a token or secret
 * @param retryAfter Microsoft's own wait hint (BackOffMilliseconds, Retry-After); null if none
 */
public record Outcome(Kind kind, String code, String detail, Duration retryAfter) {

  public enum Kind {
    /** Exchange accepted the message. */
    DELIVERED,
    /** Try again later: busy, throttled, down, timed out. */
    TRANSIENT,
    /** An administrator must fix the tenant, app or sender mapping; keep the mail and alert. */
    CONFIGURATION,
    /** This message can never be delivered as it is. */
    PERMANENT
  }

  public static Outcome success() {
    return new Outcome(Kind.DELIVERED, "NoError", "", null);
  }

  public static Outcome transientFailure(String code, String detail, Duration retryAfter) {
    return new Outcome(Kind.TRANSIENT, code, detail, retryAfter);
  }

  public static Outcome configuration(String code, String detail) {
    return new Outcome(Kind.CONFIGURATION, code, detail, null);
  }

  public static Outcome permanent(String code, String detail) {
    return new Outcome(Kind.PERMANENT, code, detail, null);
  }

  public boolean isDelivered() {
    return kind == Kind.DELIVERED;
  }

  @Override
  public String toString() {
    return kind + " " + code + (detail == null || detail.isEmpty() ? "" : " (" + detail + ")");
  }
}
