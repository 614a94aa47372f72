package io.relay365.doctor;

import io.relay365.config.Settings;
import io.relay365.deliver.TokenException;

/**
 * Token failures in plain words, each with the README's Azure step that fixes it (README section 2,
 * steps 1–7; microsoft-wire.md §1.4 for the codes). Only the code selects the text: Microsoft's own
 * message is shown beside it, never a secret.
 */
final class Explain {
  private Explain() {}

  record Why(String summary, String fix, Integer step) {}

  static Why token(TokenException e, Settings.Microsoft ms) {
    String code = e.aadsts() == null ? "" : e.aadsts().replace("AADSTS", "");
    String tenant = ms.tenantId();
    String client = ms.clientId();
    switch (code) {
      case "90002":
        return new Why("wrong tenant id: Entra ID knows no tenant " + tenant + " at " + ms.loginUrl(),
            "copy the Directory (tenant) ID from the app's Overview page into microsoft.tenant-id (step 1); a US"
                + " Government tenant also needs microsoft.login-url: https://login.microsoftonline.us", 1);
      case "900023":
        return new Why("the tenant id " + tenant + " is malformed",
            "microsoft.tenant-id must be the Directory (tenant) ID GUID or a verified domain (step 1)", 1);
      case "700016":
        return new Why("unknown application id: no app " + client + " in tenant " + tenant,
            "copy the Application (client) ID from the app's Overview page into microsoft.client-id, and check that"
                + " microsoft.tenant-id is the tenant the app is registered in (step 1)", 1);
      case "7000215":
        return new Why("the client secret is wrong: usually the secret's ID was pasted instead of its Value",
            "in Certificates & secrets create a new client secret and copy its Value (shown once), not its Secret"
                + " ID, into the secret file (step 2)", 2);
      case "7000222":
        return new Why("the client secret has expired",
            "create a new client secret under Certificates & secrets, put its Value into the secret file and its"
                + " expiry into microsoft.secret-expires, or move to a certificate (step 2)", 2);
      case "700027":
        return new Why("the certificate is not registered on the app, or the key does not match it",
            "upload the certificate of microsoft.certificate.file under Certificates & secrets → Certificates"
                + " (step 2)", 2);
      case "700024":
        return new Why("the signed client assertion is outside its validity window: this host's clock is wrong",
            "enable time synchronisation (timedatectl set-ntp true) and try again", null);
      case "7000218":
        return new Why("no credential reached Entra ID",
            "configure microsoft.client-secret-file or microsoft.certificate.file (step 2)", 2);
      case "70011": case "1002012": case "500011":
        return new Why("the scope " + ms.scope() + " is not valid for this tenant",
            "remove microsoft.scope (it is derived from delivery.transport: ews.url's origin, or graph.url for"
                + " graph) or set it to https://outlook.office365.com/.default (https://graph.microsoft.com/.default"
                + " for graph)",
            null);
      case "50049":
        return new Why("unknown authority " + ms.loginUrl(),
            "microsoft.login-url must be your cloud's login host, e.g. https://login.microsoftonline.com", null);
      default:
        break;
    }
    if ("tls".equals(e.error())) {
      return new Why("TLS to " + ms.loginUrl() + " failed: the server's certificate is not trusted ("
          + e.getMessage() + ")",
          "if a proxy or firewall inspects TLS, put its CA certificate (PEM) in a file and set microsoft.ca-file to"
              + " it; otherwise check that this host's CA bundle (ca-certificates) is current", null);
    }
    if ("network".equals(e.error()) || "timeout".equals(e.error())) {
      return new Why("cannot reach " + ms.loginUrl() + ": " + e.getMessage(),
          "check DNS and that outbound HTTPS (port 443) to " + ms.loginUrl() + " and the EWS host is allowed;"
              + " relay365 connects directly (no proxy setting), so a proxy must let it through or the firewall"
              + " must allow it", null);
    }
    String hint = e.hint() == null ? "" : e.hint();
    return new Why("token request failed: " + e.getMessage(), hint.isEmpty() ? null : hint, null);
  }

  /**
   * A call that got no HTTP answer, for the HTTPS transports' checks: an untrusted certificate (a
   * TLS-inspecting proxy), no route, or something else, in that order.
   *
   * @param service "EWS" or "Graph", as the admin knows it
   */
  static Check unanswered(String id, String title, String service, String url, Throwable e) {
    if (e != null && EwsProbe.isTls(e)) {
      return Check.fail(id, title, "TLS to " + url + " failed: the server's certificate is not trusted",
          "if a proxy or firewall inspects TLS, put its CA certificate (PEM) in a file and set microsoft.ca-file",
          null);
    }
    if (e != null && EwsProbe.isNetwork(e)) {
      return Check.fail(id, title, "cannot reach " + url + ": " + root(e), "allow outbound HTTPS (443) to the "
          + service + " host; relay365 connects directly (no proxy setting)", null);
    }
    return Check.fail(id, title, service + " call failed: " + (e == null ? "unknown" : root(e)), null, null);
  }

  /** The innermost message of a cause chain, on one line. */
  static String root(Throwable e) {
    Throwable r = e;
    String msg = e.getMessage();
    while (r.getCause() != null && r.getCause() != r) {
      r = r.getCause();
      if (r.getMessage() != null) {
        msg = r.getMessage();
      }
    }
    return msg == null ? r.getClass().getSimpleName() : msg.replaceAll("\\s+", " ").strip();
  }
}
