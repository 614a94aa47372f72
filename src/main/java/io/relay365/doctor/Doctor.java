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
        + (ms.certificate() != null ? "certificate" : "client secret") + ", " + endpoint()));
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
      r.add(Check.skip(transportId(), transportTitle(), "needs a token"));
      targets().forEach(m -> r.add(Check.skip("mailbox:" + m, "mailbox " + m, "needs a token")));
      return r;
    }

    SSLContext tls;
    try {
      tls = TrustStores.clientContext(ms.caFile());
    } catch (Exception e) {
      r.add(Check.fail("tls", "trusted CAs", "cannot load the trusted CAs: " + e.getMessage(),
          "check microsoft.ca-file", null));
      return r;
    }
    try (TransportChecks checks = checks(tls)) {
      boolean permitted = claims(r, token.value(), ms, checks);
      checks.optionalPermissions(token.value()).forEach(r::add);
      Check gate = checks.gate(token.value(), permitted);
      r.add(gate);
      boolean closed = gate.status() == Check.Status.FAIL;
      List<String> targets = targets();
      if (targets.isEmpty()) {
        r.add(Check.warn("mailbox", "mailboxes", "none checked: with sender.mode "
            + settings.sender().mode().name().toLowerCase(Locale.ROOT).replace('_', '-')
            + " the mailbox comes from each message", "run again with --mailbox ADDR for each address the devices"
            + " send as", null));
      }
      for (String m : targets) {
        if (closed) {
          r.add(Check.skip("mailbox:" + m, "mailbox " + m, checks.title() + " failed"));
        } else {
          r.add(checks.mailbox(token.value(), m));
        }
      }
      if (roleMissing && !closed && !targets.isEmpty()
          && targets.stream().allMatch(m -> r.get("mailbox:" + m).status() == Check.Status.OK)) {
        // RBAC for Applications: the permission is a role assignment in Exchange, scoped to mailboxes, and
        // never shows in the token; the service granting every mailbox checked is the proof that counts
        r.replace("permissions", Check.warn("permissions", "token permissions", "the token carries no "
            + checks.role() + ", yet " + checks.title() + " granted every mailbox checked: the permission comes"
            + " from RBAC for Applications (an Exchange role assignment), not from admin consent",
            "fine if that is how you scope the app; a mailbox outside the assignment's scope will be refused, so"
                + " check each sending mailbox with --mailbox", null));
      }
    }
    return r;
  }

  /** The token lacks the transport's role: admin consent missing, or RBAC for Applications (see run()). */
  private boolean roleMissing;

  /** The checks of delivery.transport: the only part of doctor that differs between transports. */
  private TransportChecks checks(SSLContext tls) {
    return switch (settings.delivery().transport()) {
      case EWS -> new EwsChecks(settings, tls);
      case GRAPH -> new GraphChecks(settings, tls);
      case SMTP_OAUTH -> new SmtpChecks(settings, tls);
    };
  }

  /** Where delivery.transport delivers, for the configuration line. */
  private String endpoint() {
    return switch (settings.delivery().transport()) {
      case EWS -> "EWS " + settings.ews().url();
      case GRAPH -> "Graph " + settings.graph().url();
      case SMTP_OAUTH -> "SMTP submission " + settings.smtpOauth().host() + ":" + settings.smtpOauth().port();
    };
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

  private String transportId() {
    return switch (settings.delivery().transport()) {
      case EWS -> "ews";
      case GRAPH -> "graph";
      case SMTP_OAUTH -> "smtp";
    };
  }

  private String transportTitle() {
    return switch (settings.delivery().transport()) {
      case EWS -> "EWS access";
      case GRAPH -> "Graph access";
      case SMTP_OAUTH -> "SMTP submission";
    };
  }

  /** Audience, roles and tenant of the token; true if it carries the transport's permission. */
  private boolean claims(Report r, String jwt, Settings.Microsoft ms, TransportChecks checks) {
    String role = checks.role();
    TokenClaims c;
    try {
      c = TokenClaims.decode(jwt);
    } catch (RuntimeException e) {
      r.add(Check.warn("permissions", "token permissions", "the access token cannot be decoded ("
          + e.getClass().getSimpleName() + "); " + checks.title() + " will tell", null, null));
      return true;
    }
    String resource = checks.resource() != null ? checks.resource()
        : ms.scope().substring(0, ms.scope().length() - "/.default".length());
    if (c.audience() == null || !c.audience().replaceAll("/$", "").equalsIgnoreCase(resource)) {
      r.add(Check.fail("permissions", "token permissions", "the token is for " + c.audience() + ", not for "
          + resource, "set microsoft.scope to " + resource + "/.default, or remove it to derive it from"
          + " delivery.transport",
          null));
      return false;
    }
    if (!c.roles().contains(role)) {
      roleMissing = true;
      String has = c.roles().isEmpty() ? "no application permission (roles is empty)"
          : "roles " + String.join(", ", c.roles()) + " but not " + role;
      r.add(Check.fail("permissions", "token permissions", "the token carries " + has
          + ": the permission is missing or admin consent was not granted",
          "add " + checks.api() + " → Application permissions → " + role + " and press \"Grant admin consent\" ("
              + checks.consentSteps() + "); a new token carries it within minutes (with RBAC for Applications instead,"
          + " the role never shows in the token: name the mailboxes with --mailbox to check them)",
          checks.consentStep()));
      return false;
    }
    if (c.tenant() != null && isGuid(ms.tenantId()) && !c.tenant().equalsIgnoreCase(ms.tenantId())) {
      r.add(Check.warn("permissions", "token permissions", "the token was issued by tenant " + c.tenant()
          + ", not " + ms.tenantId(), "check microsoft.tenant-id (step 1)", 1));
      return true;
    }
    r.add(Check.ok("permissions", "token permissions", "audience " + c.audience() + ", roles " + role
        + (c.appId() == null ? "" : ", app " + c.appId())));
    return true;
  }

  private static boolean isGuid(String s) {
    return s.matches("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
  }
}
