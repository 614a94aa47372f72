package io.relay365.deliver;

import io.relay365.deliver.Outcome.Kind;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.security.cert.CertificateException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLPeerUnverifiedException;
import microsoft.exchange.webservices.data.core.exception.http.HttpErrorException;
import microsoft.exchange.webservices.data.core.exception.service.remote.ServiceResponseException;
import org.apache.http.conn.ConnectTimeoutException;

/**
 * The one place where an EWS result becomes an {@link Outcome} (microsoft-wire.md §2.7). ews-java-api
 * reports everything as exceptions nested in each other (libraries.md §4), so the cause chain is walked:
 * <ul>
 *   <li>200 with ResponseClass="Error": {@code ServiceResponseException} with the ResponseCode;
 *   <li>500 SOAP fault: {@code ServiceRequestException} → cause {@code ServiceResponseException};
 *   <li>401/403/503…: {@code ServiceRequestException} → … → {@code HttpErrorException(status)}, with the
 *       response headers (x-ms-diagnostics, Retry-After) saved on the ExchangeService;
 *   <li>network, TLS and timeouts: the IOException somewhere in the chain;
 *   <li>token failures: {@link TokenException}, which keeps its own kind.
 * </ul>
 * Anything not recognised is TRANSIENT with its code, so an unknown condition never bounces mail.
 */
public final class EwsOutcomes {
  private EwsOutcomes() {}

  private static final String ALLOW_LIST_HINT = "likely causes: an Application Access Policy or RBAC for"
      + " Applications scope that excludes the mailbox, EWS disabled for the organisation or mailbox"
      + " (EWSEnabled), or this app's ID missing from the EWS allow list"
      + " (Set-OrganizationConfig -EwsAllowedAppIDs)";

  private static final String PERMISSION_HINT = "grant the application permission full_access_as_app"
      + " (Office 365 Exchange Online) and admin consent in the tenant of microsoft.tenant-id";

  private record Row(Kind kind, String hint, Outcome.Scope scope) {}

  /** ResponseCode → what the relay does about it (§2.7). Codes not listed are TRANSIENT. */
  private static final Map<String, Row> RESPONSE_CODES = Map.ofEntries(
      t("ErrorServerBusy", "Exchange is throttling this app; waiting as asked"),
      tm("ErrorExceededConnectionCount", "too many concurrent EWS requests for this account; lower ews.workers"),
      tm("ErrorSubmissionQuotaExceeded", "the mailbox reached its submission quota (messages per minute/day)"),
      t("ErrorInternalServerError", null),
      tm("ErrorMailboxStoreUnavailable", "the mailbox's database is unavailable"),
      tm("ErrorMailboxMoveInProgress", "the mailbox is being moved"),
      t("ErrorConnectionFailed", null),
      t("ErrorInsufficientResources", null),
      t("ErrorTimeoutExpired", null),
      t("ErrorTooManyObjectsOpened", null),
      // ErrorQuotaExceeded: the mailbox is full; with send-and-save-copy the Sent Items copy needs room.
      // Transient: the owner can make room; ews.disposition=send-only avoids it.
      tm("ErrorQuotaExceeded", "the sending mailbox is full; free space or set ews.disposition: send-only"),
      cm("ErrorAccessDenied", "the app may not act on this mailbox; " + PERMISSION_HINT),
      cm("ErrorImpersonateUserDenied", "the app may not impersonate this mailbox; " + PERMISSION_HINT
          + ", and check Application Access Policies"),
      cm("ErrorSendAsDenied", "the impersonated mailbox has no SendAs right on the From: address;"
          + " choose sender.mode so that the mailbox owns From:, or grant SendAs"),
      cm("ErrorNonExistentMailbox", "the sender address has no mailbox in Exchange Online; fix sender.*"
          + " (sender.map or sender.default-mailbox)"),
      cm("ErrorAccountDisabled", "the sending mailbox is disabled"),
      cm("ErrorInvalidLicense", "the sending mailbox has no Exchange Online licence"),
      p("ErrorMessageSizeExceeded", "the message is larger than Exchange Online allows for this mailbox"),
      p("ErrorInvalidRecipients", "Exchange rejected the recipient set"),
      p("ErrorInvalidSmtpAddress", "Exchange could not parse an address"),
      p("ErrorMimeContentInvalid", "Exchange could not read the message's MIME"),
      p("ErrorMimeContentInvalidBase64String", "Exchange could not read the message's MIME"),
      p("ErrorMimeContentConversionFailed", "Exchange could not convert the message's MIME"),
      // Malformed requests are relay bugs: retrying cannot help, but bouncing would blame the sender.
      // Keep the mail and alert, like a configuration problem.
      c("ErrorMessageDispositionRequired", "relay bug: malformed CreateItem request"),
      c("ErrorInvalidExchangeImpersonationHeaderData", "relay bug or invalid sender address in the"
          + " impersonation header"),
      c("ErrorSchemaValidation", "relay bug: EWS rejected the request's XML"));

  /** Transient, this message only. */
  private static Map.Entry<String, Row> t(String code, String hint) {
    return Map.entry(code, new Row(Kind.TRANSIENT, hint, Outcome.Scope.MESSAGE));
  }

  /** Transient for the whole sending mailbox (its budget, quota or store): its other mail waits too. */
  private static Map.Entry<String, Row> tm(String code, String hint) {
    return Map.entry(code, new Row(Kind.TRANSIENT, hint, Outcome.Scope.MAILBOX));
  }

  /** Configuration of the relay or tenant: every message waits. */
  private static Map.Entry<String, Row> c(String code, String hint) {
    return Map.entry(code, new Row(Kind.CONFIGURATION, hint, Outcome.Scope.RELAY));
  }

  /** Configuration of one sending mailbox (a sender mapping or right to fix): its mail waits, others flow. */
  private static Map.Entry<String, Row> cm(String code, String hint) {
    return Map.entry(code, new Row(Kind.CONFIGURATION, hint, Outcome.Scope.MAILBOX));
  }

  /** Permanent for this message. */
  private static Map.Entry<String, Row> p(String code, String hint) {
    return Map.entry(code, new Row(Kind.PERMANENT, hint, Outcome.Scope.MESSAGE));
  }

  /**
   * Whether {@code error} is an HTTP 401 that a fresh token may cure (invalid_token, e.g. diagnostics
   * 2000001), as opposed to 2000008 (no permission), which no new token can fix.
   */
  public static boolean tokenRejected(Throwable error, Map<String, String> responseHeaders) {
    HttpErrorException http = find(error, HttpErrorException.class);
    return http != null && http.getHttpErrorCode() == 401 && !diagnostics(responseHeaders).startsWith("2000008");
  }

  /** As {@link #tokenRejected(Throwable, Map)}, for the streaming request: the HTTP status and headers. */
  public static boolean tokenRejected(int status, Map<String, String> responseHeaders) {
    return status == 401 && !diagnostics(responseHeaders).startsWith("2000008");
  }

  /**
   * Classifies the reply to a CreateItem sent by the streaming request ({@link EwsCreateItem}), with the same
   * rows as ews-java-api's exceptions take in {@link #classify}: a 200 is delivered unless its
   * ResponseClass is Error (then its ResponseCode decides); a 500 with a SOAP fault is its ResponseCode; any
   * other status is {@link #fromHttpStatus}. A 200 that is not a SOAP reply is transient (ews-java-api fails
   * to read such a reply the same way).
   */
  static Outcome fromReply(int status, Map<String, String> headers, EwsReply reply, boolean afterFreshToken) {
    Duration backOff = reply.backOffMillis() == null ? null : Duration.ofMillis(reply.backOffMillis());
    if (status == 200) {
      if (!reply.soap()) {
        return Outcome.transientFailure("bad-reply", "EWS answered HTTP 200 without a SOAP reply", null);
      }
      if ("Error".equals(reply.responseClass()) || (reply.fault() && reply.code() != null)) {
        return fromResponseCode(reply.code() == null ? "EwsError" : reply.code(), reply.text(), backOff);
      }
      return Outcome.success(); // Success, or Warning (which ews-java-api also counts as sent)
    }
    if (status == 500 && reply.fault() && reply.code() != null) {
      return fromResponseCode(reply.code(), reply.text(), backOff);
    }
    return fromHttpStatus(status, headers, afterFreshToken);
  }

  /**
   * Classifies a failed CreateItem.
   *
   * @param responseHeaders the ExchangeService's saved response headers (may be null or empty)
   * @param afterFreshToken true if the request already ran again with a new token (a repeated 401 is then
   *                        CONFIGURATION)
   */
  public static Outcome classify(Throwable error, Map<String, String> responseHeaders, boolean afterFreshToken) {
    TokenException token = find(error, TokenException.class);
    if (token != null) {
      return token.toOutcome();
    }
    ServiceResponseException sre = find(error, ServiceResponseException.class);
    if (sre != null) {
      return fromResponseCode(code(sre), sre.getMessage(), backOff(sre));
    }
    HttpErrorException http = find(error, HttpErrorException.class);
    if (http != null) {
      return fromHttpStatus(http.getHttpErrorCode(), responseHeaders, afterFreshToken);
    }
    return fromLocal(error);
  }

  /** A ResponseCode (from ResponseClass="Error" or a SOAP fault) as an Outcome. */
  public static Outcome fromResponseCode(String code, String messageText, Duration backOff) {
    Row row = RESPONSE_CODES.get(code);
    String text = oneLine(messageText);
    if (row == null) {
      return Outcome.transientFailure(code, "unclassified EWS response code; retrying: " + text, backOff);
    }
    String detail = row.hint() == null ? text : text.isEmpty() ? row.hint() : text + " (" + row.hint() + ")";
    return new Outcome(row.kind(), code, detail, row.kind() == Kind.TRANSIENT ? backOff : null, false, row.scope());
  }

  /** An HTTP error status without a SOAP fault as an Outcome. */
  public static Outcome fromHttpStatus(int status, Map<String, String> headers, boolean afterFreshToken) {
    String code = "HTTP " + status;
    String diag = diagnostics(headers);
    String diagText = diag.isEmpty() ? "" : " (x-ms-diagnostics: " + oneLine(diag) + ")";
    if (status == 401) {
      if (diag.startsWith("2000008")) {
        return Outcome.configuration(code, "the token carries no EWS permission" + diagText + "; " + PERMISSION_HINT);
      }
      if (afterFreshToken) {
        return Outcome.configuration(code, "EWS rejected a freshly issued token too" + diagText
            + "; check microsoft.scope matches the EWS host and the tenant/cloud of ews.url");
      }
      return Outcome.transientFailure(code, "EWS rejected the token" + diagText, null);
    }
    if (status == 403) {
      // Usually an access policy that excludes this mailbox; if EWS is off for the whole tenant every
      // mailbox finds out on its own first attempt, which costs one request per mailbox.
      return Outcome.configuration(code, "EWS refused access" + diagText + "; " + ALLOW_LIST_HINT)
          .withScope(Outcome.Scope.MAILBOX);
    }
    if (status == 404 || status == 405) {
      return Outcome.configuration(code, "no EWS endpoint at this address; check ews.url");
    }
    Duration retryAfter = retryAfter(headers);
    if (status == 503) {
      return Outcome.transientFailure(code, "EWS unavailable or throttling (requests queuing)", retryAfter);
    }
    return Outcome.transientFailure(code, "EWS answered HTTP " + status, retryAfter);
  }

  private static Outcome fromLocal(Throwable error) {
    if (find(error, SSLPeerUnverifiedException.class) != null || find(error, CertificateException.class) != null
        || find(error, SSLHandshakeException.class) != null) {
      return Outcome.configuration("tls", "the EWS server's TLS certificate is not trusted or does not match"
          + " its name; if a TLS-inspecting proxy or private CA is in the way, add its CA to"
          + " microsoft.ca-file: " + oneLine(rootMessage(error)));
    }
    // Before the request left (no connection): nothing can have been sent.
    if (find(error, ConnectTimeoutException.class) != null) {
      return Outcome.transientFailure("connect-timeout", "cannot connect to EWS in time", null);
    }
    if (find(error, UnknownHostException.class) != null) {
      return Outcome.transientFailure("dns", "cannot resolve the EWS host: " + oneLine(rootMessage(error)), null);
    }
    if (find(error, ConnectException.class) != null || find(error, NoRouteToHostException.class) != null) {
      return Outcome.transientFailure("connect", "cannot connect to EWS: " + oneLine(rootMessage(error)), null);
    }
    // After the connection was made: the request may have been processed without us seeing the answer,
    // so a retry may send the message twice (at-least-once, as RFC 5321 6.1 prefers to losing it).
    if (find(error, SocketTimeoutException.class) != null || find(error, TimeoutException.class) != null
        || find(error, InterruptedIOException.class) != null) {
      return Outcome.ambiguous("timeout", "EWS did not answer in time; the message may have been sent");
    }
    if (find(error, IOException.class) != null) {
      return Outcome.ambiguous("network", oneLine(rootMessage(error)) + "; the message may have been sent");
    }
    String name = error == null ? "unknown" : error.getClass().getSimpleName();
    return Outcome.transientFailure(name, "unexpected EWS failure; retrying: " + oneLine(rootMessage(error)), null);
  }

  private static String code(ServiceResponseException sre) {
    Object code = sre.getErrorCode();
    return code == null ? "EwsError" : code.toString();
  }

  private static Duration backOff(ServiceResponseException sre) {
    if (sre.getResponse() == null || sre.getResponse().getErrorDetails() == null) {
      return null;
    }
    String ms = sre.getResponse().getErrorDetails().get("BackOffMilliseconds");
    try {
      return ms == null ? null : Duration.ofMillis(Long.parseLong(ms.strip()));
    } catch (NumberFormatException e) {
      return null;
    }
  }

  static String diagnostics(Map<String, String> headers) {
    String d = header(headers, "x-ms-diagnostics");
    return d == null ? "" : d.strip();
  }

  private static Duration retryAfter(Map<String, String> headers) {
    String v = header(headers, "Retry-After");
    if (v == null) {
      return null;
    }
    try {
      return Duration.ofSeconds(Long.parseLong(v.strip()));
    } catch (NumberFormatException e) {
      return null; // an HTTP-date: rare from Microsoft; the queue's own backoff applies
    }
  }

  private static String header(Map<String, String> headers, String name) {
    if (headers == null) {
      return null;
    }
    for (Map.Entry<String, String> e : headers.entrySet()) {
      if (e.getKey() != null && e.getKey().equalsIgnoreCase(name)) {
        return e.getValue();
      }
    }
    return null;
  }

  static <T extends Throwable> T find(Throwable error, Class<T> type) {
    Throwable e = error;
    for (int depth = 0; e != null && depth < 20; depth++) {
      if (type.isInstance(e)) {
        return type.cast(e);
      }
      if (e.getCause() == e) {
        break;
      }
      e = e.getCause();
    }
    return null;
  }

  private static String rootMessage(Throwable error) {
    Throwable e = error;
    String msg = null;
    for (int depth = 0; e != null && depth < 20; depth++) {
      if (e.getMessage() != null) {
        msg = e.getMessage();
      }
      e = e.getCause() == e ? null : e.getCause();
    }
    return msg == null ? (error == null ? "" : error.getClass().getSimpleName()) : msg;
  }

  private static String oneLine(String s) {
    if (s == null) {
      return "";
    }
    String one = s.replaceAll("\\s+", " ").strip();
    return one.length() > 300 ? one.substring(0, 300) + "…" : one;
  }
}
