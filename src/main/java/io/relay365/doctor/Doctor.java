package io.relay365.doctor;

import io.relay365.config.Settings;
import io.relay365.deliver.MsalTokenSource;
import io.relay365.deliver.TokenException;
import io.relay365.deliver.TokenSource.AccessToken;
import io.relay365.tls.Pem;
import io.relay365.tls.TrustStores;
import java.io.InputStream;
import java.nio.file.Files;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;

/**
 * {@code relay365 doctor}: walks the Microsoft side the way a delivery does, one step at a time, and
 * explains the first thing that is wrong in terms of the README's Azure steps (section 2, 1–7):
 * credential expiry, a token (and why not), what the token allows (audience, roles), whether EWS lets
 * the app in at all, and for each mailbox whether the app may act as it. Every call is read-only.
 */
public final class Doctor {
  static final String EWS_ROLE = "full_access_as_app";
  static final int EXPIRY_WARNING_DAYS = 30;

  private final Settings settings;
  private final List<String> mailboxes;
  private final Clock clock;

  public Doctor(Settings settings, List<String> mailboxes, Clock clock) {
    this.settings = settings;
    this.mailboxes = mailboxes;
    this.clock = clock;
  }

  public Report run() {
    Report r = new Report();
    Settings.Microsoft ms = settings.microsoft();
    r.add(Check.ok("config", "configuration", "tenant " + ms.tenantId() + ", client " + ms.clientId() + ", "
        + (ms.certificate() != null ? "certificate" : "client secret") + ", EWS " + settings.ews().url()));
    r.add(credentialExpiry(ms));

    AccessToken token = null;
    try (MsalTokenSource source = new MsalTokenSource(ms)) {
      token = source.fetch().get(ms.timeout().toMillis() * 2 + 10_000, TimeUnit.MILLISECONDS);
      r.add(Check.ok("token", "token", "issued by " + ms.loginUrl() + " for " + ms.scope() + ", valid until "
          + token.expiresOn()));
    } catch (ExecutionException e) {
      TokenException te = e.getCause() instanceof TokenException t ? t
          : new TokenException("token request failed: " + e.getCause(), null, null, 0, null, null, null);
      Explain.Why why = Explain.token(te, ms);
      r.add(Check.fail("token", "token", why.summary() + codeSuffix(te), why.fix(), why.step()));
    } catch (java.util.concurrent.TimeoutException e) {
      r.add(Check.fail("token", "token", "no answer from " + ms.loginUrl() + " in time",
          "check that outbound HTTPS to " + ms.loginUrl() + " is allowed", null));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      r.add(Check.fail("token", "token", "interrupted", null, null));
    } catch (Exception e) {
      r.add(Check.fail("token", "token", "cannot set up the token client: " + e.getMessage(), null, null));
    }
    if (token == null) {
      r.add(Check.skip("permissions", "token permissions", "needs a token"));
      r.add(Check.skip("ews", "EWS access", "needs a token"));
      targets().forEach(m -> r.add(Check.skip("mailbox:" + m, "mailbox " + m, "needs a token")));
      return r;
    }

    boolean permitted = claims(r, token.value(), ms);

    SSLContext tls;
    try {
      tls = TrustStores.clientContext(ms.caFile());
    } catch (Exception e) {
      r.add(Check.fail("ews", "EWS access", "cannot load the trusted CAs: " + e.getMessage(),
          "check microsoft.ca-file", null));
      return r;
    }
    try (EwsProbe probe = new EwsProbe(settings.ews(), tls)) {
      EwsProbe.Result gate = probe.inbox(token.value(), null);
      Check ews = gate(gate, permitted);
      r.add(ews);
      boolean ewsClosed = ews.status() == Check.Status.FAIL;
      List<String> targets = targets();
      if (targets.isEmpty()) {
        r.add(Check.warn("mailbox", "mailboxes", "none checked: with sender.mode "
            + settings.sender().mode().name().toLowerCase(Locale.ROOT).replace('_', '-')
            + " the mailbox comes from each message", "run again with --mailbox ADDR for each address the devices"
            + " send as", null));
      }
      for (String m : targets) {
        if (ewsClosed) {
          r.add(Check.skip("mailbox:" + m, "mailbox " + m, "EWS access failed"));
        } else {
          r.add(mailbox(m, probe.inbox(token.value(), m)));
        }
      }
    }
    return r;
  }

  private static String codeSuffix(TokenException e) {
    return e.aadsts() != null ? " (" + e.aadsts() + ")" : "";
  }

  /** --mailbox arguments, else the mailboxes the configuration names (fixed, default, map). */
  List<String> targets() {
    Set<String> s = new LinkedHashSet<>(mailboxes);
    if (s.isEmpty()) {
      Settings.Sender snd = settings.sender();
      if (snd.fixedMailbox() != null) {
        s.add(snd.fixedMailbox());
      }
      if (snd.map() != null) {
        s.addAll(snd.map().values());
      }
      if (snd.defaultMailbox() != null) {
        s.add(snd.defaultMailbox());
      }
    }
    return new ArrayList<>(s);
  }

  // ---- credential expiry ------------------------------------------------------------------------

  Check credentialExpiry(Settings.Microsoft ms) {
    LocalDate today = LocalDate.ofInstant(clock.instant(), ZoneOffset.UTC);
    if (ms.certificate() != null) {
      X509Certificate cert;
      try {
        cert = certificate(ms.certificate());
      } catch (Exception e) {
        return Check.fail("credential", "credential", "cannot read the certificate: " + e.getMessage(),
            "check microsoft.certificate.*", 2);
      }
      LocalDate until = LocalDate.ofInstant(cert.getNotAfter().toInstant(), ZoneOffset.UTC);
      return expiry("certificate " + cert.getSubjectX500Principal().getName(), until, today,
          "create a new certificate, upload it under Certificates & secrets → Certificates (step 2) and point"
              + " microsoft.certificate.file at it");
    }
    if (ms.secretExpires() == null) {
      return Check.ok("credential", "credential", "client secret (expiry unknown: set microsoft.secret-expires to"
          + " be warned " + EXPIRY_WARNING_DAYS + " days ahead)");
    }
    return expiry("client secret", ms.secretExpires(), today, "create a new client secret under Certificates &"
        + " secrets (step 2), put its Value in the secret file and its expiry in microsoft.secret-expires");
  }

  private static Check expiry(String what, LocalDate until, LocalDate today, String fix) {
    long days = Duration.between(today.atStartOfDay(), until.atStartOfDay()).toDays();
    if (days < 0) {
      return Check.fail("credential", "credential", what + " expired on " + until, fix, 2);
    }
    if (days <= EXPIRY_WARNING_DAYS) {
      return Check.warn("credential", "credential", what + " expires on " + until + ", in " + days + " day(s)", fix,
          2);
    }
    return Check.ok("credential", "credential", what + " valid until " + until + " (" + days + " days)");
  }

  private static X509Certificate certificate(Settings.Certificate c) throws Exception {
    byte[] head = new byte[1];
    try (InputStream in = Files.newInputStream(c.file())) {
      if (in.read(head) == 1 && head[0] == 0x30) { // DER: PKCS#12
        KeyStore ks = KeyStore.getInstance("PKCS12");
        char[] pw = c.password() == null ? new char[0] : c.password().reveal().toCharArray();
        try (InputStream all = Files.newInputStream(c.file())) {
          ks.load(all, pw);
        }
        for (String a : Collections.list(ks.aliases())) {
          if (ks.isKeyEntry(a) && ks.getCertificate(a) instanceof X509Certificate x) {
            return x;
          }
        }
        throw new IllegalArgumentException("no certificate with a key in " + c.file());
      }
    }
    return Pem.readCertificates(c.file()).get(0);
  }

  // ---- token claims -----------------------------------------------------------------------------

  /** Audience, roles and tenant of the token; true if it carries the EWS permission. */
  private boolean claims(Report r, String jwt, Settings.Microsoft ms) {
    TokenClaims c;
    try {
      c = TokenClaims.decode(jwt);
    } catch (RuntimeException e) {
      r.add(Check.warn("permissions", "token permissions", "the access token cannot be decoded ("
          + e.getClass().getSimpleName() + "); EWS will tell", null, null));
      return true;
    }
    String resource = ms.scope().substring(0, ms.scope().length() - "/.default".length());
    if (c.audience() == null || !c.audience().replaceAll("/$", "").equalsIgnoreCase(resource)) {
      r.add(Check.fail("permissions", "token permissions", "the token is for " + c.audience() + ", not for "
          + resource, "set microsoft.scope to " + resource + "/.default, or remove it to derive it from ews.url",
          null));
      return false;
    }
    if (!c.roles().contains(EWS_ROLE)) {
      String has = c.roles().isEmpty() ? "no application permission (roles is empty)"
          : "roles " + String.join(", ", c.roles()) + " but not " + EWS_ROLE;
      r.add(Check.fail("permissions", "token permissions", "the token carries " + has
          + ": the permission is missing or admin consent was not granted",
          "add Office 365 Exchange Online → Application permissions → " + EWS_ROLE + " (step 3) and press"
              + " \"Grant admin consent\" (step 4); a new token carries it within minutes", 3));
      return false;
    }
    if (c.tenant() != null && isGuid(ms.tenantId()) && !c.tenant().equalsIgnoreCase(ms.tenantId())) {
      r.add(Check.warn("permissions", "token permissions", "the token was issued by tenant " + c.tenant()
          + ", not " + ms.tenantId(), "check microsoft.tenant-id (step 1)", 1));
      return true;
    }
    r.add(Check.ok("permissions", "token permissions", "audience " + c.audience() + ", roles " + EWS_ROLE
        + (c.appId() == null ? "" : ", app " + c.appId())));
    return true;
  }

  private static boolean isGuid(String s) {
    return s.matches("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
  }

  // ---- EWS --------------------------------------------------------------------------------------

  /**
   * GetFolder without impersonation. EWS that admits the app answers it with "ExchangeImpersonation SOAP
   * header must be present" (microsoft-wire.md §2.1): proof that the app got past the EWS gate, before
   * any mailbox is involved. A 403 here means the gate itself: EWS off for the organisation, or the app
   * not on its allow list (§2.9).
   */
  private Check gate(EwsProbe.Result g, boolean permitted) {
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

  private Check mailbox(String m, EwsProbe.Result res) {
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
            "grant " + EWS_ROLE + " with admin consent (steps 3–4) and check Application Access Policies (step 5)",
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
            "add " + EWS_ROLE + " (step 3) and grant admin consent (step 4)", 4);
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
    Throwable e = res.error();
    if (e != null && EwsProbe.isTls(e)) {
      return Check.fail(id, title, "TLS to " + url + " failed: the server's certificate is not trusted",
          "if a proxy or firewall inspects TLS, put its CA certificate (PEM) in a file and set microsoft.ca-file",
          null);
    }
    if (e != null && EwsProbe.isNetwork(e)) {
      return Check.fail(id, title, "cannot reach " + url + ": " + root(e), "allow outbound HTTPS (443) to the"
          + " EWS host; relay365 connects directly (no proxy setting)", null);
    }
    return Check.fail(id, title, "EWS call failed: " + (e == null ? "unknown" : root(e)), null, null);
  }

  private static String first(String diag) {
    return diag.isEmpty() ? "" : diag.split(";", 2)[0];
  }

  private static String root(Throwable e) {
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
