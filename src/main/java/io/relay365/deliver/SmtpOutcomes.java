package io.relay365.deliver;

import io.relay365.deliver.Outcome.Kind;
import io.relay365.deliver.Outcome.Scope;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.security.cert.CertificateException;
import java.time.Duration;
import java.util.Locale;
import java.util.regex.Pattern;
import javax.net.ssl.SSLException;

/**
 * The one place where what Exchange Online's client submission endpoint answered (an SMTP reply, or a
 * network/TLS failure) becomes an {@link Outcome} (microsoft-wire.md §4, §5; RFC 5321 §4.2, RFC 3463
 * enhanced status codes). Rows are matched in this order: Microsoft's own conditions by enhanced
 * status code or text (some of them lie about their class, e.g. the 30-messages-a-minute rejection is a
 * 5xx but only means "later"), then the reply class, with the stage deciding who else a failure
 * concerns: a refusal while opening the session (greeting, EHLO, STARTTLS, AUTH) is about the relay or the
 * mailbox, never about one message, so it never bounces mail.
 *
 * <p>{@link Outcome#code()} is "SMTP 535 5.7.3" (reply code + enhanced status code), or a short local name
 * ("connect", "dns", "timeout", "network", "tls", "starttls"): small fixed sets, fit for metric labels.
 */
public final class SmtpOutcomes {
  private SmtpOutcomes() {}

  /** Where in the SMTP dialogue a reply came: decides who else a refusal concerns. */
  public enum Stage {
    GREETING, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA,
    /** The reply to the final "." of the message: the only one that says whether it was accepted. */
    DOT
  }

  /** EXO rejects client submission above 30 messages a minute per mailbox (§5): wait out the minute. */
  static final Duration SUBMISSION_QUOTA_WAIT = Duration.ofSeconds(60);

  static final String AUTH_FIX = "the app may not send as this mailbox by SMTP: give the app the application"
      + " permission SMTP.SendAsApp (Office 365 Exchange Online) with admin consent, register its service"
      + " principal in Exchange (New-ServicePrincipal -AppId <client-id> -ObjectId <object id of the Enterprise"
      + " application>), grant it the mailbox (Add-MailboxPermission -AccessRights FullAccess), and check that SMTP"
      + " AUTH is enabled for the mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled $false)";

  static final String SEND_AS_FIX = "the mailbox may not send as this address: choose sender.* so that the"
      + " sending mailbox owns the From: address (e.g. sender.mode: from-header), or grant SendAs"
      + " (Add-RecipientPermission <address> -Trustee <mailbox> -AccessRights SendAs)";

  private static final Pattern ENHANCED = Pattern.compile("^[245]\\.\\d{1,3}\\.\\d{1,3}$");

  /**
   * Classifies one SMTP reply.
   *
   * @param stage what the reply answered
   * @param code  the three-digit reply code (-1 for a closed connection, handled by {@link #closed})
   * @param text  the whole reply text, possibly several lines, with or without the code in front
   */
  public static Outcome fromReply(Stage stage, int code, String text) {
    String line = oneLine(stripCode(code, text));
    String enhanced = enhanced(line);
    String label = "SMTP " + code + (enhanced.isEmpty() ? "" : " " + enhanced);
    String lower = line.toLowerCase(Locale.ROOT);
    if (code >= 200 && code < 400) {
      return Outcome.success();
    }
    // ---- Microsoft's own conditions, by what they mean rather than by their class ------------------
    if (lower.contains("submissionquotaexceeded")) {
      // GUESS (text): "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; ..." -
      // above 30 messages a minute EXO rejects, not queues (§4, §5). Later is fine: hold the mailbox.
      return new Outcome(Kind.TRANSIENT, label, "Exchange refused more than 30 messages a minute from this mailbox ("
          + line + "); delivery.per-mailbox-rate should stay at 30 or below", SUBMISSION_QUOTA_WAIT, false,
          Scope.MAILBOX);
    }
    if (lower.contains("sender thread limit")) {
      // GUESS (text): "432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded": too many submissions
      // of this mailbox at once.
      return new Outcome(Kind.TRANSIENT, label, "too many connections submitting as this mailbox at once (" + line
          + ")", null, false, Scope.MAILBOX);
    }
    if (enhanced.equals("5.7.139")) {
      boolean mailbox = lower.contains("mailbox");
      return new Outcome(Kind.CONFIGURATION, label, "SMTP AUTH is disabled for the " + (mailbox ? "mailbox" : "tenant")
          + " (" + line + "): Set-CASMailbox <mailbox> -SmtpClientAuthenticationDisabled $false"
          + (mailbox ? "" : ", or Set-TransportConfig -SmtpClientAuthenticationDisabled $false for the tenant"),
          null, false, mailbox ? Scope.MAILBOX : Scope.RELAY);
    }
    if (code == 535) {
      // 5.7.3 "Authentication unsuccessful" says nothing more: permission, consent, service principal,
      // mailbox right. It is per mailbox (one mailbox's missing FullAccess must not stop the others); a
      // tenant-wide cause makes each mailbox find out on its own first attempt.
      return new Outcome(Kind.CONFIGURATION, label, "Exchange refused the token for this mailbox (" + line + "); "
          + AUTH_FIX, null, false, Scope.MAILBOX);
    }
    if (enhanced.equals("5.7.30")) {
      return new Outcome(Kind.CONFIGURATION, label, "Exchange refused basic authentication (" + line + "); relay365"
          + " authenticates with XOAUTH2 only, so check that smtp-oauth.server is Exchange Online's submission"
          + " endpoint", null, false, Scope.RELAY);
    }
    if (enhanced.equals("5.7.57") || (code == 530 && stage != Stage.GREETING)) {
      return new Outcome(Kind.CONFIGURATION, label, "Exchange says the session is not authenticated (" + line
          + "); check smtp-oauth.server, and that it offers AUTH XOAUTH2 after STARTTLS", null, false, Scope.RELAY);
    }
    if (enhanced.equals("5.2.252") || lower.contains("sendasdenied") || enhanced.equals("5.7.60")) {
      return new Outcome(Kind.CONFIGURATION, label, "Exchange refused the sender (" + line + "); " + SEND_AS_FIX,
          null, false, Scope.MAILBOX);
    }
    if (enhanced.equals("5.7.705") || enhanced.equals("5.7.708") || enhanced.equals("5.7.750")) {
      return new Outcome(Kind.CONFIGURATION, label, "Exchange Online blocked the tenant's outbound mail (" + line
          + "); an administrator must open a case with Microsoft (Defender portal: Restricted entities)", null, false,
          Scope.RELAY);
    }
    if (enhanced.equals("5.1.8")) {
      return new Outcome(Kind.CONFIGURATION, label, "Exchange Online blocked this mailbox from sending (" + line
          + "; usually after it sent spam); release it in the Defender portal under Restricted entities", null,
          false, Scope.MAILBOX);
    }
    // ---- by class ----------------------------------------------------------------------------------
    if (code == 552 && stage == Stage.RCPT) {
      // RFC 5321 4.5.3.1.10: a 552 to RCPT means "too many recipients"; treat it as the temporary 452.
      return new Outcome(Kind.TRANSIENT, label, "Exchange refused a recipient for now (" + line + ")", null);
    }
    if (code >= 400 && code < 500) {
      // 421 (closing), 451 (local error), 452 (storage, too many recipients) and the rest: try again.
      return new Outcome(Kind.TRANSIENT, label, "Exchange answered " + code + " (" + line + ")", null);
    }
    if (code >= 500 && code < 600) {
      switch (stage) {
        case GREETING, EHLO, STARTTLS, AUTH:
          // The session itself is refused: every message would be; never bounce one for it.
          return new Outcome(Kind.CONFIGURATION, label, "Exchange refused the session at " + stage.name()
              + " (" + line + "); check smtp-oauth.server", null);
        case MAIL:
          if (code == 552 || enhanced.startsWith("5.3.4")) {
            return Outcome.permanent(label, "the message is larger than Exchange accepts (" + line + ")");
          }
          // MAIL FROM is always the sending mailbox: a refusal is about the mailbox, not the message.
          return new Outcome(Kind.CONFIGURATION, label, "Exchange refused the sending mailbox in MAIL FROM (" + line
              + "); check sender.* and that the mailbox exists", null, false, Scope.MAILBOX);
        default:
          String what = code == 552 || enhanced.startsWith("5.3.4") ? "the message is larger than Exchange accepts"
              : enhanced.startsWith("5.1.") ? "Exchange refused the recipient address" : "Exchange refused the message";
          return Outcome.permanent(label, what + " (" + line + ")");
      }
    }
    // 1xx or nonsense: not SMTP as we know it; retry rather than decide
    return Outcome.transientFailure(label, "unexpected SMTP reply at " + stage.name() + " (" + line + ")", null);
  }

  /**
   * The server closed the connection (or the reply could not be read) instead of answering.
   *
   * @param afterDot the final "." had been sent: Exchange may have accepted the message (RFC 5321 §6.1:
   *                 a retry may duplicate it, which beats losing it)
   */
  public static Outcome closed(Stage stage, boolean afterDot) {
    if (afterDot) {
      return Outcome.ambiguous("network", "the connection closed before Exchange answered the end of the message;"
          + " it may have been sent");
    }
    return Outcome.transientFailure("network", "Exchange closed the connection at " + stage.name(), null);
  }

  /**
   * Classifies a failure that is not a reply: token, TLS, DNS, connect, timeout, reset.
   *
   * @param afterDot the final "." had been sent when it happened (see {@link #closed})
   */
  public static Outcome fromFailure(Throwable error, boolean afterDot) {
    TokenException token = find(error, TokenException.class);
    if (token != null) {
      return token.toOutcome();
    }
    String root = oneLine(rootMessage(error));
    if (root.contains("STARTTLS is required")) {
      return Outcome.configuration("starttls", "the server at smtp-oauth.server does not offer STARTTLS; relay365"
          + " never authenticates or sends mail in clear text. Something between here and Exchange (a firewall or"
          + " antivirus inspecting SMTP on port 587) may be stripping STARTTLS from the EHLO reply");
    }
    if (root.contains("does not offer AUTH XOAUTH2")) {
      return Outcome.configuration("smtp-auth", "the server at smtp-oauth.server does not offer AUTH XOAUTH2 after"
          + " STARTTLS; it must be Exchange Online's client submission endpoint (smtp.office365.com:587)");
    }
    if (find(error, CertificateException.class) != null || find(error, SSLException.class) != null
        || root.contains("server identity")) {
      return Outcome.configuration("tls", "the SMTP server's TLS certificate is not trusted or does not match its"
          + " name (" + root + "); if a TLS-inspecting firewall or private CA is in the way, add its CA to"
          + " microsoft.ca-file");
    }
    // Before the connection was made nothing can have been sent.
    if (find(error, UnknownHostException.class) != null) {
      return Outcome.transientFailure("dns", "cannot resolve the SMTP host (" + root + ")", null);
    }
    if (find(error, ConnectException.class) != null || find(error, NoRouteToHostException.class) != null
        || isConnectFailure(error)) {
      return Outcome.transientFailure("connect", "cannot connect to the SMTP server (" + root + "); outbound TCP"
          + " to smtp-oauth.server must be open (port 587 for Exchange Online)", null);
    }
    boolean timeout = find(error, SocketTimeoutException.class) != null
        || find(error, java.util.concurrent.TimeoutException.class) != null
        || find(error, InterruptedIOException.class) != null;
    if (afterDot) {
      return Outcome.ambiguous(timeout ? "timeout" : "network", (timeout ? "Exchange did not answer the end of the"
          + " message in time" : root) + "; the message may have been sent");
    }
    if (timeout) {
      return Outcome.transientFailure("timeout", "Exchange did not answer in time (smtp-oauth.timeout)", null);
    }
    if (find(error, IOException.class) != null) {
      return Outcome.transientFailure("network", root, null);
    }
    String name = error == null ? "unknown" : error.getClass().getSimpleName();
    return Outcome.transientFailure(name, "unexpected SMTP failure; retrying: " + root, null);
  }

  /**
   * Whether an AUTH refusal may be cured by a fresh token: only 5.7.3 (which is also what an expired or
   * revoked token gets); 5.7.139 (SMTP AUTH disabled) and the rest cannot.
   */
  public static boolean tokenMayBeStale(int code, String text) {
    return code == 535 && !enhanced(oneLine(stripCode(code, text))).equals("5.7.139");
  }

  /** "5.7.3" from "5.7.3 Authentication unsuccessful [...]", or "". */
  static String enhanced(String line) {
    int sp = line.indexOf(' ');
    String first = sp < 0 ? line : line.substring(0, sp);
    return ENHANCED.matcher(first).matches() ? first : "";
  }

  /** The text without the leading reply code (of the first line), and without continuation codes. */
  static String stripCode(int code, String text) {
    if (text == null) {
      return "";
    }
    String c = String.valueOf(code);
    StringBuilder out = new StringBuilder();
    for (String l : text.split("\r?\n")) {
      String s = l;
      if (s.startsWith(c) && (s.length() == 3 || s.charAt(3) == ' ' || s.charAt(3) == '-')) {
        s = s.length() > 4 ? s.substring(4) : "";
      }
      if (!s.isBlank()) {
        out.append(out.length() == 0 ? "" : " ").append(s.strip());
      }
    }
    return out.toString();
  }

  private static boolean isConnectFailure(Throwable error) {
    for (Throwable e = error; e != null; e = e.getCause() == e ? null : e.getCause()) {
      // angus-mail: MailConnectException / SocketConnectException wrap connect() failures and timeouts
      String n = e.getClass().getSimpleName();
      if (n.equals("MailConnectException") || n.equals("SocketConnectException")) {
        return true;
      }
    }
    return false;
  }

  static <T extends Throwable> T find(Throwable error, Class<T> type) {
    Throwable e = error;
    for (int depth = 0; e != null && depth < 20; depth++) {
      if (type.isInstance(e)) {
        return type.cast(e);
      }
      Throwable next = e.getCause();
      if (next == null && e instanceof jakarta.mail.MessagingException m) {
        next = m.getNextException();
      }
      e = next == e ? null : next;
    }
    return null;
  }

  private static String rootMessage(Throwable error) {
    String msg = null;
    Throwable e = error;
    for (int depth = 0; e != null && depth < 20; depth++) {
      if (e.getMessage() != null) {
        msg = e.getMessage();
      }
      Throwable next = e.getCause();
      if (next == null && e instanceof jakarta.mail.MessagingException m) {
        next = m.getNextException();
      }
      e = next == e ? null : next;
    }
    return msg == null ? (error == null ? "" : error.getClass().getSimpleName()) : msg;
  }

  static String oneLine(String s) {
    if (s == null) {
      return "";
    }
    String one = s.replaceAll("\\s+", " ").strip();
    return one.length() > 300 ? one.substring(0, 300) + "…" : one;
  }

  /** For callers that only need the label of a reply (logs, doctor). */
  static String label(int code, String text) {
    String e = enhanced(oneLine(stripCode(code, text)));
    return "SMTP " + code + (e.isEmpty() ? "" : " " + e);
  }
}
