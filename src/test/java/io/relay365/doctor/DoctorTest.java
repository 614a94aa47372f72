package io.relay365.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import io.relay365.config.Settings;
import io.relay365.config.SettingsLoader;
import io.relay365.doctor.Check.Status;
import io.relay365.tls.CertificateAuthority;
import io.vertx.core.json.JsonObject;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The doctor against the sandbox playing each failure an administrator meets when setting up the
 * Microsoft side: every test checks that the explanation names the cause and the README step.
 */
class DoctorTest extends DoctorFixture {
  @Override
  String transport() {
    return "ews";
  }

  @Test
  void aHealthySetupPassesEveryCheck() throws Exception {
    Report r = doctor(GOOD, OTHER);
    assertThat(r.ok()).as(r.toText()).isTrue();
    assertThat(r.checks()).extracting(Check::status).containsOnly(Status.OK);
    assertThat(r.get("permissions").summary()).contains("full_access_as_app").contains(sandbox.clientId());
    assertThat(r.get("mailbox:" + GOOD).summary()).startsWith("granted");
    assertThat(r.toText()).contains("Everything needed to deliver works.");
    JsonObject j = r.toJson();
    assertThat(j.getBoolean("ok")).isTrue();
    assertThat(j.getJsonArray("checks")).hasSize(r.checks().size());
  }

  @Test
  void wrongTenantIdPointsToStepOne() throws Exception {
    sandbox.faults().tokenError("90002", 1);
    Report r = doctor(GOOD);
    Check t = r.get("token");
    assertThat(t.status()).isEqualTo(Status.FAIL);
    assertThat(t.summary()).contains("wrong tenant id").contains("AADSTS90002");
    assertThat(t.fix()).contains("Directory (tenant) ID").contains("microsoft.tenant-id");
    assertThat(t.step()).isEqualTo(1);
    assertThat(r.get("mailbox:" + GOOD).status()).isEqualTo(Status.SKIP);
    assertThat(r.ok()).isFalse();
  }

  @Test
  void unknownApplicationIdPointsToStepOne() throws Exception {
    sandbox.faults().tokenError("700016", 1);
    Check t = doctor(GOOD).get("token");
    assertThat(t.summary()).contains("unknown application id").contains(sandbox.clientId());
    assertThat(t.fix()).contains("Application (client) ID").contains("microsoft.client-id");
    assertThat(t.step()).isEqualTo(1);
  }

  @Test
  void secretIdPastedInsteadOfItsValueIsNamed() throws Exception {
    sandbox.faults().tokenError("7000215", 1);
    Check t = doctor(GOOD).get("token");
    assertThat(t.summary()).contains("secret's ID was pasted instead of its Value").contains("AADSTS7000215");
    assertThat(t.fix()).contains("copy its Value").contains("not its Secret ID");
    assertThat(t.step()).isEqualTo(2);
  }

  @Test
  void expiredSecretAsksForANewOne() throws Exception {
    sandbox.faults().tokenError("7000222", 1);
    Check t = doctor(GOOD).get("token");
    assertThat(t.summary()).contains("client secret has expired");
    assertThat(t.fix()).contains("create a new client secret").contains("microsoft.secret-expires");
    assertThat(t.step()).isEqualTo(2);
  }

  @Test
  void missingAdminConsentIsSeenInTheTokensRoles() throws Exception {
    sandbox.faults().rolesInToken(List.of());
    Report r = doctor(GOOD);
    assertThat(r.get("token").status()).isEqualTo(Status.OK);
    Check p = r.get("permissions");
    assertThat(p.status()).isEqualTo(Status.FAIL);
    assertThat(p.summary()).contains("roles is empty").contains("admin consent was not granted");
    assertThat(p.fix()).contains("full_access_as_app").contains("Grant admin consent").contains("steps 3–4");
    assertThat(p.step()).isEqualTo(3);
    assertThat(r.ok()).isFalse();
  }

  @Test
  void rbacForApplicationsWithoutRolesInTheTokenPassesWhenEveryMailboxIsGranted() throws Exception {
    sandbox.faults().rbacScope(java.util.Set.of(GOOD)); // role assignment in Exchange, no Entra consent
    Report r = doctor(GOOD);
    assertThat(r.ok()).as(r.toText()).isTrue();
    Check p = r.get("permissions");
    assertThat(p.status()).isEqualTo(Status.WARN);
    assertThat(p.summary()).contains("no full_access_as_app").contains("RBAC for Applications");
    assertThat(r.get("mailbox:" + GOOD).status()).isEqualTo(Status.OK);
  }

  @Test
  void rbacForApplicationsThatLeavesOutAMailboxFailsForIt() throws Exception {
    sandbox.faults().rbacScope(java.util.Set.of(GOOD));
    Report r = doctor(GOOD, OTHER);
    assertThat(r.ok()).isFalse();
    assertThat(r.get("mailbox:" + GOOD).status()).isEqualTo(Status.OK);
    assertThat(r.get("mailbox:" + OTHER).status()).isEqualTo(Status.FAIL);
    assertThat(r.get("permissions").status()).as("not proven by every mailbox").isEqualTo(Status.FAIL);
    assertThat(r.get("permissions").fix()).contains("RBAC for Applications").contains("--mailbox");
  }

  @Test
  void mailboxOutsideTheApplicationAccessPolicyIsDeniedAndOthersGranted() throws Exception {
    sandbox.faults().denyMailbox(OTHER);
    Report r = doctor(GOOD, OTHER);
    assertThat(r.get("ews").status()).isEqualTo(Status.OK);
    assertThat(r.get("mailbox:" + GOOD).summary()).startsWith("granted");
    Check denied = r.get("mailbox:" + OTHER);
    assertThat(denied.status()).isEqualTo(Status.FAIL);
    assertThat(denied.summary()).contains("denied by an Application Access Policy");
    assertThat(denied.fix()).contains("Test-ApplicationAccessPolicy -AppId " + sandbox.clientId() + " -Identity " + OTHER);
    assertThat(denied.step()).isEqualTo(5);
    assertThat(r.ok()).isFalse();
  }

  @Test
  void addressWithoutMailboxIsReportedAsNoSuchMailbox() throws Exception {
    sandbox.faults().unknownMailbox(OTHER);
    Check c = doctor(OTHER).get("mailbox:" + OTHER);
    assertThat(c.status()).isEqualTo(Status.FAIL);
    assertThat(c.summary()).contains("no such mailbox").contains("ErrorNonExistentMailbox");
    assertThat(c.step()).isEqualTo(7);
  }

  @Test
  void ewsDisabledOrAppNotAllowListedIsToldApartFromAPolicy() throws Exception {
    sandbox.faults().ewsDisabled(true);
    Report r = doctor(GOOD);
    Check ews = r.get("ews");
    assertThat(ews.status()).isEqualTo(Status.FAIL);
    assertThat(ews.summary()).contains("EWS is disabled for the organisation").contains("EwsAllowedAppIDs");
    assertThat(ews.fix()).contains("Set-OrganizationConfig -EwsAllowedAppIDs @{Add=\"" + sandbox.clientId() + "\"}");
    assertThat(ews.step()).isEqualTo(6);
    assertThat(r.get("mailbox:" + GOOD).status()).isEqualTo(Status.SKIP);
  }

  @Test
  void untrustedCertificateSuggestsTheCaFile() throws Exception {
    env.put("RELAY365_MICROSOFT_CA_FILE", ""); // only the system CAs: the sandbox's CA is like a TLS-inspecting proxy's
    Check t = doctor(GOOD).get("token");
    assertThat(t.status()).isEqualTo(Status.FAIL);
    assertThat(t.summary()).contains("not trusted");
    assertThat(t.fix()).contains("microsoft.ca-file").contains("inspects TLS");
  }

  @Test
  void unreachableTokenEndpointSuggestsTheFirewall() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    env.put("RELAY365_MICROSOFT_LOGIN_URL", "https://localhost:" + closed);
    Check t = doctor(GOOD).get("token");
    assertThat(t.status()).isEqualTo(Status.FAIL);
    assertThat(t.summary()).contains("cannot reach https://localhost:" + closed);
    assertThat(t.fix()).contains("outbound HTTPS");
  }

  @Test
  void secretExpiringWithinThirtyDaysWarnsButDelivers() throws Exception {
    LocalDate soon = LocalDate.now(ZoneOffset.UTC).plusDays(10);
    env.put("RELAY365_MICROSOFT_SECRET_EXPIRES", soon.toString());
    Report r = doctor(GOOD);
    Check c = r.get("credential");
    assertThat(c.status()).isEqualTo(Status.WARN);
    assertThat(c.summary()).isEqualTo("client secret expires on " + soon + ", in 10 day(s)");
    assertThat(r.ok()).isTrue();
    assertThat(r.toText()).contains("with 1 warning(s)");
  }

  @Test
  void secretPastItsExpiryFails() throws Exception {
    env.put("RELAY365_MICROSOFT_SECRET_EXPIRES", LocalDate.now(ZoneOffset.UTC).minusDays(1).toString());
    Check c = doctor(GOOD).get("credential");
    assertThat(c.status()).isEqualTo(Status.FAIL);
    assertThat(c.summary()).contains("expired on");
  }

  @Test
  void certificateExpiringWithinThirtyDaysWarns() throws Exception {
    CertificateAuthority ca = CertificateAuthority.generate("doctor-test", Duration.ofDays(30));
    CertificateAuthority.Issued c = ca.issueClient("relay365", Instant.now().minusSeconds(60), Duration.ofDays(12));
    Path cert = Files.writeString(dir.resolve("soon-cert.pem"), c.certificatePem());
    Path key = Files.writeString(dir.resolve("soon-key.pem"), c.keyPem());
    Path yaml = Files.writeString(dir.resolve("cert.yaml"), "microsoft:\n  tenant-id: " + sandbox.tenantId()
        + "\n  client-id: " + sandbox.clientId() + "\n  certificate:\n    file: " + cert + "\n    key-file: " + key
        + "\n");
    Settings s = SettingsLoader.load(yaml, env);
    Check check = new Doctor(s, List.of(), Clock.systemUTC()).credentialExpiry(s.microsoft());
    assertThat(check.status()).isEqualTo(Status.WARN);
    assertThat(check.summary()).contains("certificate CN=relay365").containsPattern("in 1[12] day\\(s\\)");
    assertThat(check.fix()).contains("upload it under Certificates & secrets");
  }
}
