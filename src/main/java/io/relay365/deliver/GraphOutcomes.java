package io.relay365.deliver;

import io.relay365.deliver.Outcome.Kind;
import io.relay365.deliver.Outcome.Scope;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.UnknownHostException;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLPeerUnverifiedException;

/**
 * The one place where a Microsoft Graph answer becomes an {@link Outcome} (microsoft-wire.md §3). Graph
 * errors are {@code {"error":{"code":"…","message":"…"}}} with an HTTP status; the code decides where it
 * is specific, the status otherwise:
 *
 * <ul>
 *   <li>202 from sendMail or from a draft's send: delivered ("accepted is not delivered" at Microsoft,
 *       but it is the end of the relay's responsibility, as with EWS);
 *   <li>401 InvalidAuthenticationToken: the transport drops the token and tries once more
 *       ({@link #tokenRejected}); a second 401 is configuration;
 *   <li>403 (an Application Access Policy "[RAOP]" denial, a missing Mail.Send / Mail.ReadWrite, or an
 *       RBAC for Applications scope): configuration of that mailbox, like EWS's 403 ({@link EwsOutcomes});
 *   <li>404 ErrorInvalidUser / ErrorNonExistentMailbox: configuration of that mailbox (sender mapping);
 *   <li>413 on sendMail: not an outcome, the large-message path takes over ({@link #needsLargePath});
 *   <li>429, 503, 504: transient for the whole mailbox (Graph throttles per app and mailbox), Retry-After
 *       honoured as a minimum; other 5xx transient for the message;
 *   <li>network: a failure before the request left is transient; after it left, on a request that
 *       submits the message, ambiguous (the message may have been sent);
 *   <li>token failures: {@link TokenException}, which keeps its own kind.
 * </ul>
 *
 * Outcome codes are Microsoft's error codes from a fixed list, "HTTP nnn", or a short local name, so the
 * metrics label stays a small set whatever a server answers. Anything not recognised is TRANSIENT: an
 * unknown condition never bounces mail.
 */
public final class GraphOutcomes {
  private GraphOutcomes() {}

  /** The Graph requests of one delivery. Only the two that submit the message can leave it sent unseen. */
  public enum Step {
    SEND_MAIL("sendMail", true),
    CREATE_DRAFT("creating the draft", false),
    ADD_ATTACHMENT("adding an attachment", false),
    CREATE_UPLOAD_SESSION("creating an upload session", false),
    UPLOAD("uploading an attachment", false),
    SEND_DRAFT("sending the draft", true);

    private final String text;
    private final boolean submits;

    Step(String text, boolean submits) {
      this.text = text;
      this.submits = submits;
    }

    /** True if a success of this request means the message was sent. */
    public boolean submits() {
      return submits;
    }

    /** True for the requests of the large-message path that need Mail.ReadWrite. */
    boolean needsReadWrite() {
      return this != SEND_MAIL && this != SEND_DRAFT;
    }

    @Override
    public String toString() {
      return text;
    }
  }

  /** The exact message of an Application Access Policy denial contains this (§3). */
  static final String RAOP = "[RAOP]";

  private static final String PERMISSION_HINT = "grant the application permission Mail.Send (Microsoft Graph) with"
      + " admin consent in the tenant of microsoft.tenant-id";

  private static final String POLICY_HINT = "an Application Access Policy excludes this mailbox: add it to the"
      + " policy's group (New-ApplicationAccessPolicy / Test-ApplicationAccessPolicy; changes take 30-60 min)";

  private static final String SCOPE_HINT = "the app may not send as this mailbox: check that Mail.Send (Microsoft"
      + " Graph, application) has admin consent and that no RBAC for Applications scope or Application Access"
      + " Policy excludes the mailbox";

  private static final String READ_WRITE_HINT = "messages larger than graph.max-request-size are sent as a draft,"
      + " which needs the application permission Mail.ReadWrite (Microsoft Graph) with admin consent, and any RBAC"
      + " for Applications scope must include the mailbox for it";

  private record Row(Kind kind, Scope scope, String hint) {}

  /** Graph error codes the relay knows (also the only codes that reach the metrics label). */
  private static final Map<String, Row> CODES = Map.ofEntries(
      Map.entry("ErrorMimeContentInvalidBase64String", new Row(Kind.CONFIGURATION, Scope.RELAY,
          "relay bug: Graph could not decode the base64 the relay sent; the mail is kept")),
      Map.entry("ErrorMimeContentInvalid", new Row(Kind.PERMANENT, Scope.MESSAGE,
          "Exchange could not read the message's MIME")),
      Map.entry("ErrorMimeContentConversionFailed", new Row(Kind.PERMANENT, Scope.MESSAGE,
          "Exchange could not convert the message's MIME")),
      Map.entry("ErrorInvalidRecipients", new Row(Kind.PERMANENT, Scope.MESSAGE,
          "Exchange rejected the recipient set")),
      Map.entry("ErrorMessageSizeExceeded", new Row(Kind.PERMANENT, Scope.MESSAGE,
          "the message is larger than the sending mailbox may send (MaxSendSize, 35 MB by default)")),
      Map.entry("ErrorInvalidUser", new Row(Kind.CONFIGURATION, Scope.MAILBOX,
          "Graph knows no such user; fix sender.* (sender.map or sender.default-mailbox)")),
      Map.entry("ErrorNonExistentMailbox", new Row(Kind.CONFIGURATION, Scope.MAILBOX,
          "the sender address has no mailbox in Exchange Online; fix sender.* (sender.map or"
              + " sender.default-mailbox)")),
      Map.entry("MailboxNotEnabledForRESTAPI", new Row(Kind.CONFIGURATION, Scope.MAILBOX,
          "the mailbox is inactive, unlicensed, soft-deleted or on-premises")),
      Map.entry("ErrorSendAsDenied", new Row(Kind.CONFIGURATION, Scope.MAILBOX,
          "the mailbox has no SendAs right on the From: address; choose sender.mode so that the mailbox owns"
              + " From:, or grant SendAs")),
      Map.entry("ErrorQuotaExceeded", new Row(Kind.TRANSIENT, Scope.MAILBOX,
          "the sending mailbox is full; MIME sends always keep a copy in Sent Items, so free space there")),
      Map.entry("ErrorItemNotFound", new Row(Kind.TRANSIENT, Scope.MESSAGE,
          "the draft disappeared while it was being built; it is built again")),
      Map.entry("ErrorAccessDenied", new Row(Kind.CONFIGURATION, Scope.MAILBOX, SCOPE_HINT)),
      Map.entry("InvalidAuthenticationToken", new Row(Kind.TRANSIENT, Scope.MESSAGE, null)),
      Map.entry("TooManyRequests", new Row(Kind.TRANSIENT, Scope.MAILBOX,
          "Graph is throttling this app for this mailbox; waiting as asked")),
      Map.entry("ApplicationThrottled", new Row(Kind.TRANSIENT, Scope.MAILBOX,
          "Graph is throttling this app for this mailbox (at most 4 requests at once); waiting as asked")));

  // ---- answers ----------------------------------------------------------------------------------

  /**
   * Whether a reply is a 401 that a fresh token may cure. Graph says InvalidAuthenticationToken for an
   * expired, unparseable or wrong-audience token alike; the one retry tells a stale token from a
   * configuration problem.
   */
  public static boolean tokenRejected(int status) {
    return status == 401;
  }

  /**
   * Whether sendMail refused the request for its size (413 above "about 4 MB", §3): the message then
   * goes as a draft with its attachments uploaded. A MaxSendSize refusal (ErrorMessageSizeExceeded) is
   * not cured by that and is permanent.
   */
  public static boolean needsLargePath(Step step, int status, String body) {
    return step == Step.SEND_MAIL && status == 413 && !"ErrorMessageSizeExceeded".equals(error(body).code());
  }

  /**
   * Classifies a Graph reply.
   *
   * @param retryAfter      the Retry-After header, or null
   * @param body            the reply body (Graph's JSON error), or null
   * @param afterFreshToken true if the request already ran again with a new token (a repeated 401 is then
   *                        CONFIGURATION)
   */
  public static Outcome fromResponse(Step step, int status, String retryAfter, String body, boolean afterFreshToken) {
    if (status == 202 && step.submits()) {
      return Outcome.success();
    }
    GraphError err = error(body);
    String text = oneLine(err.message());
    Duration wait = retryAfter(retryAfter);
    Row known = err.code() == null ? null : CODES.get(err.code());
    String code = known != null ? err.code() : "HTTP " + status;

    if (status == 401) {
      if (!afterFreshToken) {
        return Outcome.transientFailure(code, "Graph rejected the token" + paren(text), null);
      }
      String hint = text.contains("roles") || text.contains("scp")
          ? "the token carries no Graph application permission; " + PERMISSION_HINT
          : "check that microsoft.login-url and graph.url belong to the same cloud, and that microsoft.scope is"
              + " the graph.url origin + /.default (or unset)";
      return Outcome.configuration(code, "Graph rejected a freshly issued token too" + paren(text) + "; " + hint);
    }
    if (status == 403) {
      // Any 403 holds only this mailbox, as EwsOutcomes does: a policy excludes mailboxes one by one, and
      // when the whole app lacks the permission every mailbox finds out on its own first attempt.
      if (!text.contains(RAOP) && step.needsReadWrite()) {
        // only messages over graph.max-request-size need Mail.ReadWrite: the mailbox's small mail keeps
        // flowing, so hold this message alone (its alert stays until it is delivered)
        return new Outcome(Kind.CONFIGURATION, code, join(text, READ_WRITE_HINT), null, false, Scope.MESSAGE);
      }
      String hint = text.contains(RAOP) ? POLICY_HINT : SCOPE_HINT;
      return new Outcome(Kind.CONFIGURATION, code, join(text, hint), null, false, Scope.MAILBOX);
    }
    if (known != null && known.kind() != Kind.TRANSIENT) {
      return new Outcome(known.kind(), code, join(text, known.hint()), null, false, known.scope());
    }
    if (status == 404 || status == 405) {
      if (known != null) {
        return new Outcome(known.kind(), code, join(text, known.hint()), wait, false, known.scope());
      }
      return Outcome.configuration(code, "no Graph API at this address" + paren(text) + "; check graph.url"
          + " (an origin such as https://graph.microsoft.com)");
    }
    if (status == 413) {
      // sendMail's 413 never gets here (needsLargePath); the draft path's requests are sized below
      // graph.max-request-size, so Graph's limit is lower than that setting. Keep the mail and say so.
      return Outcome.configuration(code, "Graph refused a request of the large-message path as too large"
          + paren(text) + " while " + step + "; lower graph.max-request-size");
    }
    if (status == 429 || status == 503 || status == 504) {
      // Graph throttles per app and mailbox (§3): the wait holds that mailbox, the others keep flowing.
      String hint = known != null ? known.hint() : status == 429 ? "Graph is throttling this app for this mailbox"
          : "Graph is unavailable or overloaded";
      return new Outcome(Kind.TRANSIENT, code, join(text, hint), wait, false, Scope.MAILBOX);
    }
    if (known != null) {
      return new Outcome(known.kind(), code, join(text, known.hint()), wait, false, known.scope());
    }
    if (status >= 500) {
      return Outcome.transientFailure(code, "Graph answered HTTP " + status + paren(text) + " while " + step, wait);
    }
    return Outcome.transientFailure(code, "unexpected Graph answer HTTP " + status + paren(text) + " while " + step
        + "; retrying", wait);
  }

  /** A message that cannot be brought under Graph's request limit even on the large-message path. */
  public static Outcome cannotSplit(String detail) {
    return Outcome.permanent("too-large", detail);
  }

  // ---- failures without an answer -----------------------------------------------------------------

  /** Classifies a request that got no HTTP answer (network, TLS, timeout), or a token failure. */
  public static Outcome fromFailure(Step step, Throwable error) {
    TokenException token = EwsOutcomes.find(error, TokenException.class);
    if (token != null) {
      return token.toOutcome();
    }
    if (EwsOutcomes.find(error, SSLPeerUnverifiedException.class) != null
        || EwsOutcomes.find(error, SSLHandshakeException.class) != null
        || EwsOutcomes.find(error, GeneralSecurityException.class) != null
        || EwsOutcomes.find(error, java.security.cert.CertificateException.class) != null) {
      return Outcome.configuration("tls", "the Graph server's TLS certificate is not trusted or does not match its"
          + " name; if a TLS-inspecting proxy or private CA is in the way, add its CA to microsoft.ca-file: "
          + redact(rootMessage(error)));
    }
    // Before the request left (no connection): nothing can have been sent. Netty's connect timeout is a
    // ConnectException too.
    if (EwsOutcomes.find(error, UnknownHostException.class) != null) {
      return Outcome.transientFailure("dns", "cannot resolve the Graph host: " + redact(rootMessage(error)), null);
    }
    if (EwsOutcomes.find(error, ConnectException.class) != null
        || EwsOutcomes.find(error, NoRouteToHostException.class) != null) {
      return Outcome.transientFailure("connect", "cannot connect to Graph: " + redact(rootMessage(error)), null);
    }
    boolean timeout = EwsOutcomes.find(error, TimeoutException.class) != null;
    boolean network = timeout || EwsOutcomes.find(error, IOException.class) != null || isClosed(error);
    if (network) {
      String what = timeout ? "Graph did not answer in time" : "the connection to Graph broke ("
          + redact(rootMessage(error)) + ")";
      // After the connection was made, a request that submits the message may have been processed without
      // us seeing the answer: the retry may send it twice (at-least-once, as RFC 5321 6.1 prefers).
      if (step.submits()) {
        return Outcome.ambiguous(timeout ? "timeout" : "network", what + " while " + step
            + "; the message may have been sent");
      }
      return Outcome.transientFailure(timeout ? "timeout" : "network", what + " while " + step, null);
    }
    String name = error == null ? "unknown" : error.getClass().getSimpleName();
    return Outcome.transientFailure(name, "unexpected failure while " + step + "; retrying: "
        + redact(rootMessage(error)), null);
  }

  /** Vert.x reports a connection closed under a request as HttpClosedException, not an IOException. */
  private static boolean isClosed(Throwable error) {
    for (Throwable e = error; e != null; e = e.getCause() == e ? null : e.getCause()) {
      if (e.getClass().getSimpleName().equals("HttpClosedException")
          || e.getClass().getSimpleName().equals("StreamResetException")) {
        return true;
      }
    }
    return false;
  }

  // ---- parsing ----------------------------------------------------------------------------------

  /** Graph's error object; both fields null if the body is not one. */
  record GraphError(String code, String message) {}

  static GraphError error(String body) {
    if (body == null || body.isBlank()) {
      return new GraphError(null, null);
    }
    try {
      JsonObject e = new JsonObject(body).getJsonObject("error");
      if (e == null) {
        return new GraphError(null, null);
      }
      Object code = e.getValue("code");
      Object message = e.getValue("message");
      return new GraphError(code instanceof String c ? c : null, message instanceof String m ? m : null);
    } catch (DecodeException | ClassCastException e) {
      return new GraphError(null, null);
    }
  }

  /** Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date; null if absent or unreadable. */
  static Duration retryAfter(String value) {
    if (value == null || value.isBlank()) {
      return null;
    }
    String v = value.strip();
    try {
      long s = Long.parseLong(v);
      return s < 0 ? null : Duration.ofSeconds(s);
    } catch (NumberFormatException e) {
      try {
        Duration d = Duration.between(Instant.now(), ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME));
        return d.isNegative() ? Duration.ZERO : d;
      } catch (DateTimeParseException x) {
        return null;
      }
    }
  }

  /**
   * A failure text made safe for logs: upload URLs carry a pre-authenticated token in their query
   * (§3), and Vert.x puts the request URI into its timeout messages; a bearer token never belongs there
   * either.
   */
  static String redact(String s) {
    if (s == null) {
      return "";
    }
    String r = s.replaceAll("\\?\\S*", "?…").replaceAll("(?i)bearer\\s+\\S+", "Bearer …");
    return oneLine(r);
  }

  private static String rootMessage(Throwable error) {
    String msg = null;
    Throwable e = error;
    for (int depth = 0; e != null && depth < 20; depth++) {
      if (e.getMessage() != null) {
        msg = e.getMessage();
      }
      e = e.getCause() == e ? null : e.getCause();
    }
    return msg == null ? (error == null ? "" : error.getClass().getSimpleName()) : msg;
  }

  private static String join(String text, String hint) {
    if (hint == null) {
      return text;
    }
    return text.isEmpty() ? hint : text + " (" + hint + ")";
  }

  private static String paren(String text) {
    return text.isEmpty() ? "" : " (" + text + ")";
  }

  private static String oneLine(String s) {
    if (s == null) {
      return "";
    }
    String one = s.replaceAll("\\s+", " ").strip();
    return one.length() > 300 ? one.substring(0, 300) + "…" : one;
  }
}
