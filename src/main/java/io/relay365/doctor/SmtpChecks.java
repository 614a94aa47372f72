package io.relay365.doctor;

import io.relay365.config.Settings;
import io.relay365.deliver.Outcome;
import io.relay365.deliver.SmtpOutcomes;
import java.util.Locale;
import javax.net.ssl.SSLContext;

/**
 * Doctor's SMTP submission part (delivery.transport: smtp-oauth, microsoft-wire.md §4): whether the
 * submission endpoint can be reached with STARTTLS and offers AUTH XOAUTH2 (the gate), then for each mailbox
 * whether the app may authenticate as it and name it in MAIL FROM. It sends nothing: MAIL FROM, RSET, QUIT.
 */
final class SmtpChecks implements TransportChecks {
  static final String ROLE = "SMTP.SendAsApp";

  private final Settings settings;
  private final SmtpProbe probe;

  SmtpChecks(Settings settings, SSLContext tls) {
    this.settings = settings;
    this.probe = new SmtpProbe(settings, tls);
  }

  @Override
  public String id() {
    return "smtp";
  }

  @Override
  public String title() {
    return "SMTP submission";
  }

  @Override
  public String role() {
    return ROLE;
  }

  @Override
  public String consentSteps() {
    return "README \"Moving off EWS\", SMTP step 1";
  }

  @Override
  public Integer consentStep() {
    return null;
  }

  @Override
  public Check gate(String token, boolean permitted) {
    SmtpProbe.Result r = probe.gate();
    String server = probe.server();
    if (r.ok()) {
      String mechs = r.authMechanisms() == null ? "" : r.authMechanisms().toUpperCase(Locale.ROOT);
      if (!(" " + mechs + " ").contains(" XOAUTH2 ")) {
        return Check.fail(id(), title(), server + " answers with STARTTLS but offers no AUTH XOAUTH2 inside TLS"
            + (mechs.isBlank() ? "" : " (only " + mechs.trim() + ")"), "set smtp-oauth.server to Exchange Online's"
            + " client submission endpoint, smtp.office365.com:587", null);
      }
      return Check.ok(id(), title(), server + " offers STARTTLS and, inside TLS, AUTH XOAUTH2");
    }
    return failure(id(), title(), r);
  }

  @Override
  public Check mailbox(String token, String m) {
    SmtpProbe.Result r = probe.mailbox(token, m);
    String id = "mailbox:" + m;
    String title = "mailbox " + m;
    if (r.ok()) {
      return Check.ok(id, title, "granted: the app may send as this mailbox (AUTH XOAUTH2 and MAIL FROM accepted;"
          + " nothing was sent)");
    }
    if (r.error() != null) {
      return failure(id, title, r);
    }
    String reply = SmtpOutcomes.fromReply(stage(r), r.code(), r.reply()).code();
    String text = oneLine(r.reply());
    if (r.stage().equals("auth")) {
      if (text.contains("5.7.139")) {
        boolean tenant = text.toLowerCase(Locale.ROOT).contains("tenant");
        return Check.fail(id, title, "SMTP AUTH is disabled for the " + (tenant ? "organisation" : "mailbox")
            + " (" + text + ")", tenant
            ? "in Exchange Online PowerShell: Set-TransportConfig -SmtpClientAuthenticationDisabled $false (or enable"
                + " it for this mailbox only: Set-CASMailbox " + m + " -SmtpClientAuthenticationDisabled $false)"
            : "in Exchange Online PowerShell: Set-CASMailbox " + m + " -SmtpClientAuthenticationDisabled $false", null);
      }
      return Check.fail(id, title, "Exchange refused to authenticate the app as this mailbox (" + text + ")",
          "check, in this order (README \"Moving off EWS\", SMTP steps 1–4): the application permission " + ROLE
              + " (Office 365 Exchange Online) with admin consent; the app's service principal registered in Exchange: New-ServicePrincipal"
              + " -AppId " + settings.microsoft().clientId() + " -ObjectId <Object ID of the Enterprise"
              + " application, not of the app registration>; the mailbox granted to it: Add-MailboxPermission -Identity "
              + m + " -User <that service principal> -AccessRights FullAccess; and SMTP AUTH enabled for the mailbox:"
              + " Set-CASMailbox " + m + " -SmtpClientAuthenticationDisabled $false", null);
    }
    if (r.stage().equals("mail")) {
      if (text.contains("5.7.60") || text.contains("5.2.252") || text.toLowerCase(Locale.ROOT).contains("sendas")) {
        return Check.fail(id, title, "SendAs denied: the app may authenticate as this mailbox but not name it as"
            + " sender (" + text + ")", "grant it: Add-RecipientPermission " + m + " -Trustee <the service principal>"
            + " -AccessRights SendAs", null);
      }
      return Check.fail(id, title, "Exchange refused MAIL FROM:<" + m + "> (" + text + ")", "check that the address"
          + " is the mailbox's primary SMTP address, or map the device's address to it with sender.map (step 7)", 7);
    }
    return Check.fail(id, title, "Exchange answered " + reply + " (" + text + ")", null, null);
  }

  /** Local failures (network, TLS, STARTTLS) and refused sessions, shared by the gate and the mailbox checks. */
  private Check failure(String id, String title, SmtpProbe.Result r) {
    String server = probe.server();
    if (r.error() == null || r.code() >= 400) {
      String text = oneLine(r.reply());
      return Check.fail(id, title, server + " refused the session (" + text + ")", "check smtp-oauth.server; if it"
          + " persists, check https://status.office365.com", null);
    }
    Outcome o = SmtpOutcomes.fromFailure(r.error(), false);
    switch (o.code()) {
      case "starttls":
        return Check.fail(id, title, server + " did not offer STARTTLS, so relay365 stopped before authenticating"
            + " (it never sends a token or mail in clear text)", "Exchange Online always offers STARTTLS on port 587:"
            + " a firewall or antivirus that inspects SMTP (e.g. ESMTP inspection) is stripping it; exempt outbound"
            + " port 587 to smtp.office365.com from inspection", null);
      case "tls":
        return Check.fail(id, title, "TLS to " + server + " failed: the server's certificate is not trusted or does"
            + " not match its name", "if a firewall inspects TLS, put its CA certificate (PEM) in a file and set"
            + " microsoft.ca-file; else exempt port 587 to smtp.office365.com from TLS inspection", null);
      case "smtp-auth":
        return Check.fail(id, title, server + " offers no AUTH XOAUTH2 after STARTTLS", "set smtp-oauth.server to"
            + " smtp.office365.com:587", null);
      case "dns":
      case "connect":
      case "timeout":
      case "network":
        return Check.fail(id, title, "cannot reach " + server + " (" + o.detail() + ")", "allow outbound TCP port "
            + settings.smtpOauth().port() + " to " + settings.smtpOauth().host() + " (many networks block outbound"
            + " SMTP ports); relay365 connects directly, without a proxy", null);
      default:
        return Check.fail(id, title, "SMTP submission failed: " + o.detail(), null, null);
    }
  }

  private static SmtpOutcomes.Stage stage(SmtpProbe.Result r) {
    return switch (r.stage()) {
      case "auth" -> SmtpOutcomes.Stage.AUTH;
      case "mail" -> SmtpOutcomes.Stage.MAIL;
      default -> SmtpOutcomes.Stage.GREETING;
    };
  }

  private static String oneLine(String s) {
    return s == null ? "" : s.replaceAll("\\s+", " ").strip();
  }

  @Override
  public void close() {
    // every probe closes its own connection
  }
}
