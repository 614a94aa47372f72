package io.relay365.doctor;

import io.relay365.config.Settings;
import javax.net.ssl.SSLContext;

/**
 * Doctor's EWS part: GetFolder calls that change nothing, answered the way Test-ApplicationAccessPolicy
 * answers for a mailbox (granted, denied by a policy, no such mailbox), and the EWS gate of §2.9
 * (EWSEnabled, EwsAllowedAppIDs).
 */
final class EwsChecks implements TransportChecks {
  static final String ROLE = "full_access_as_app";

  private final Settings settings;
  private final EwsProbe probe;

  EwsChecks(Settings settings, SSLContext tls) {
    this.settings = settings;
    this.probe = new EwsProbe(settings.ews(), tls);
  }

  @Override
  public String id() {
    return "ews";
  }

  @Override
  public String title() {
    return "EWS access";
  }

  @Override
  public String role() {
    return ROLE;
  }

  @Override
  public void close() {
    probe.close();
  }

  /**
   * GetFolder without impersonation. EWS that admits the app answers it with "ExchangeImpersonation SOAP
   * header must be present" (microsoft-wire.md §2.1): proof that the app got past the EWS gate, before
   * any mailbox is involved. A 403 here means the gate itself: EWS off for the organisation, or the app
   * not on its allow list (§2.9).
   */
  public Check gate(String token, boolean permitted) {
    EwsProbe.Result g = probe.inbox(token, null);
    String title = "EWS access";
    String url = settings.ews().url();
    if (g.success() || g.responseCode() != null) {
      return Check.ok("ews", title, "EWS at " + url + " admits this app");
    }
    if (g.httpStatus() == 403) {
      return Check.fail("ews", title, "EWS refused this app before looking at any mailbox (HTTP 403): EWS is"
          + " disabled for the organisation, or the app is not in EwsAllowedAppIDs",
          "in Exchange Online PowerShell: Set-OrganizationConfig -EWSEnabled $true and"
              + " Set-OrganizationConfig -EwsAllowedAppIDs @{Add=\"" + settings.microsoft().clientId() + "\"}"
              + " (step 6); EWS in Exchange Online ends on 1 April 2027", 6);
    }
    return http("ews", title, g, permitted);
  }

  public Check mailbox(String token, String m) {
    EwsProbe.Result res = probe.inbox(token, m);
    String id = "mailbox:" + m;
    String title = "mailbox " + m;
    if (res.success()) {
      return Check.ok(id, title, "granted: the app may send as this mailbox (GetFolder inbox succeeded)");
    }
    if (res.httpStatus() == 403) {
      return Check.fail(id, title, "denied by an Application Access Policy (or an RBAC for Applications scope)"
          + " that does not include this mailbox (HTTP 403)",
          "add the mailbox to the policy's group, check with Test-ApplicationAccessPolicy -AppId "
              + settings.microsoft().clientId() + " -Identity " + m + " (step 5); changes take 30–60 minutes", 5);
    }
    String code = res.responseCode() == null ? "" : res.responseCode();
    switch (code) {
      case "ErrorNonExistentMailbox":
        return Check.fail(id, title, "no such mailbox: Exchange Online has no mailbox with this address"
            + " (ErrorNonExistentMailbox)", "use the address of an existing, licensed or shared mailbox, or map the"
            + " device's address to one with sender.map (step 7)", 7);
      case "ErrorImpersonateUserDenied":
      case "ErrorAccessDenied":
        return Check.fail(id, title, "the app may not act as this mailbox (" + code + ")",
            "grant " + ROLE + " with admin consent (steps 3–4) and check Application Access Policies (step 5)",
            3);
      case "ErrorAccountDisabled":
      case "ErrorInvalidLicense":
        return Check.fail(id, title, "the mailbox is disabled or unlicensed (" + code + ")",
            "enable and license the mailbox, or use a shared mailbox (step 7)", 7);
      default:
        break;
    }
    if (!code.isEmpty()) {
      return Check.fail(id, title, "EWS answered " + code, null, null);
    }
    return http(id, title, res, true);
  }

  /** HTTP statuses and local failures, shared by the gate and the mailbox checks. */
  private Check http(String id, String title, EwsProbe.Result res, boolean permitted) {
    String url = settings.ews().url();
    String diag = res.diagnostics() == null ? "" : res.diagnostics();
    if (res.httpStatus() == 401) {
      if (diag.startsWith("2000008") || !permitted) {
        return Check.fail(id, title, "EWS says the token carries no permission (HTTP 401 " + first(diag) + ")",
            "add " + ROLE + " (step 3) and grant admin consent (step 4)", 4);
      }
      return Check.fail(id, title, "EWS rejected the token (HTTP 401 " + first(diag) + ")",
          "check that ews.url and microsoft.login-url belong to the same cloud and tenant (step 1)", 1);
    }
    if (res.httpStatus() == 404 || res.httpStatus() == 405) {
      return Check.fail(id, title, "no EWS endpoint at " + url + " (HTTP " + res.httpStatus() + ")",
          "check ews.url (default https://outlook.office365.com/EWS/Exchange.asmx)", null);
    }
    if (res.httpStatus() > 0) {
      return Check.fail(id, title, "EWS answered HTTP " + res.httpStatus(), "try again later; if it persists,"
          + " check https://status.office365.com", null);
    }
    return Explain.unanswered(id, title, "EWS", url, res.error());
  }

  private static String first(String diag) {
    return diag.isEmpty() ? "" : diag.split(";", 2)[0];
  }
}
