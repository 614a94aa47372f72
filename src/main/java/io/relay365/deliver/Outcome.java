package io.relay365.deliver;

import java.time.Duration;

/**
 * The result of one delivery attempt, classified so that the queue never has to parse error strings
 * (chasquid's Courier returns (err, permanent) for the same reason). {@link EwsOutcomes} is the one place
 * that builds these from what Microsoft answered.
 *
 * @param kind       what the queue should do with the message
 * @param code       the upstream code: an EWS ResponseCode ("ErrorServerBusy"), "HTTP 503",
 *                   an AADSTS code ("AADSTS7000215"), or a short local name ("timeout", "connect")
 * @param detail     one line for the log, never containing a token or secret
 * @param retryAfter Microsoft's own wait hint (BackOffMilliseconds, Retry-After); null if none. The queue
 *                   treats it as a minimum and holds back the whole sending mailbox for that long.
 * @param ambiguous  the request was sent but no answer came (read timeout, connection reset): Exchange may
 *                   have sent the message, so the retry may be a duplicate (at-least-once)
 * @param scope      what the failure says about other messages: only this one, every message of the same
 *                   sending mailbox, or every message of the relay
 */
public record Outcome(Kind kind, String code, String detail, Duration retryAfter, boolean ambiguous, Scope scope) {

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

  /** Who else a failure concerns; the queue holds back that much. */
  public enum Scope {
    /** This message only. */
    MESSAGE,
    /** Every message sent as the same mailbox (a sender mapping to fix, a mailbox-level throttle). */
    MAILBOX,
    /** Every message (credentials, app registration, endpoint). */
    RELAY
  }

  public Outcome {
    if (scope == null) {
      scope = kind == Kind.CONFIGURATION ? Scope.RELAY : Scope.MESSAGE;
    }
  }

  /** Not ambiguous; scope from the kind (configuration = the whole relay, else this message). */
  public Outcome(Kind kind, String code, String detail, Duration retryAfter) {
    this(kind, code, detail, retryAfter, false, null);
  }

  public static Outcome success() {
    return new Outcome(Kind.DELIVERED, "NoError", "", null);
  }

  public static Outcome transientFailure(String code, String detail, Duration retryAfter) {
    return new Outcome(Kind.TRANSIENT, code, detail, retryAfter);
  }

  /** A transient failure after the request was sent: Exchange may have the message already. */
  public static Outcome ambiguous(String code, String detail) {
    return new Outcome(Kind.TRANSIENT, code, detail, null, true, Scope.MESSAGE);
  }

  public static Outcome configuration(String code, String detail) {
    return new Outcome(Kind.CONFIGURATION, code, detail, null);
  }

  public static Outcome permanent(String code, String detail) {
    return new Outcome(Kind.PERMANENT, code, detail, null);
  }

  public Outcome withScope(Scope s) {
    return new Outcome(kind, code, detail, retryAfter, ambiguous, s);
  }

  public boolean isDelivered() {
    return kind == Kind.DELIVERED;
  }

  @Override
  public String toString() {
    return kind + " " + code + (detail == null || detail.isEmpty() ? "" : " (" + detail + ")");
  }
}
