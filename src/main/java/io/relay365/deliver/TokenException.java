package io.relay365.deliver;

/**
 * A failed token request, already classified: the EWS transport turns it into an {@link Outcome}
 * with the same kind. The message is one line for an operator and never contains a secret.
 */
public final class TokenException extends Exception {
  private final String aadsts;
  private final String error;
  private final int httpStatus;
  private final Outcome.Kind kind;
  private final String hint;

  /**
   * @param aadsts     "AADSTS7000215", or null if the reply carried none
   * @param error      the OAuth {@code error} ("invalid_client"), or a local name ("timeout", "network")
   * @param httpStatus HTTP status of the token endpoint's reply, 0 if there was no reply
   * @param kind       TRANSIENT or CONFIGURATION
   * @param hint       what the operator should do, or null
   */
  public TokenException(String message, String aadsts, String error, int httpStatus, Outcome.Kind kind,
      String hint, Throwable cause) {
    super(message, cause);
    this.aadsts = aadsts;
    this.error = error;
    this.httpStatus = httpStatus;
    this.kind = kind;
    this.hint = hint;
  }

  public String aadsts() {
    return aadsts;
  }

  public String error() {
    return error;
  }

  public int httpStatus() {
    return httpStatus;
  }

  public Outcome.Kind kind() {
    return kind;
  }

  public String hint() {
    return hint;
  }

  /** The code for {@link Outcome#code()}: the AADSTS code if known, else the OAuth error or HTTP status. */
  public String code() {
    if (aadsts != null) {
      return aadsts;
    }
    if (error != null) {
      return error;
    }
    return httpStatus > 0 ? "HTTP " + httpStatus : "token";
  }

  /** This failure as a delivery outcome (the message stays queued for either kind). */
  public Outcome toOutcome() {
    String detail = "token request failed: " + getMessage() + (hint == null ? "" : "; " + hint);
    return new Outcome(kind, code(), detail, null);
  }
}
