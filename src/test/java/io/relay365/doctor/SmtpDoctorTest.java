package io.relay365.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import io.relay365.doctor.Check.Status;
import io.relay365.sandbox.SmtpFaults;
import java.net.ServerSocket;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The doctor with delivery.transport: smtp-oauth, against the sandbox playing each failure an administrator
 * meets when moving to SMTP submission: every test checks that the explanation names the cause and the fix.
 */
class SmtpDoctorTest extends DoctorFixture {
  @Override
  String transport() {
    return "smtp-oauth";
  }

  @Test
  void aHealthySetupPassesEveryCheckAndSendsNothing() throws Exception {
    int messages = sandbox.smtpMessages();
    Report r = doctor(GOOD, OTHER);
    assertThat(r.ok()).as(r.toText()).isTrue();
    assertThat(r.checks()).extracting(Check::status).containsOnly(Status.OK);
    assertThat(r.get("permissions").summary()).contains("SMTP.SendAsApp");
    assertThat(r.get("smtp").summary()).contains(sandbox.smtpServer()).contains("STARTTLS").contains("XOAUTH2");
    assertThat(r.get("mailbox:" + GOOD).summary()).startsWith("granted").contains("nothing was sent");
    assertThat(sandbox.smtpMessages()).isEqualTo(messages);
  }

  @Test
  void consentForEwsOnlyIsSeenInTheTokensRoles() throws Exception {
    sandbox.faults().rolesInToken(List.of("full_access_as_app"));
    Report r = doctor(GOOD);
    Check p = r.get("permissions");
    assertThat(p.status()).isEqualTo(Status.FAIL);
    assertThat(p.summary()).contains("full_access_as_app but not SMTP.SendAsApp");
    assertThat(p.fix()).contains("Office 365 Exchange Online").contains("SMTP.SendAsApp").contains("Grant admin consent");
    assertThat(p.fix()).as("SMTP's own step, not EWS's").contains("\"Moving off EWS\", SMTP step 1");
    assertThat(r.ok()).isFalse();
  }

  @Test
  void aMailboxTheServicePrincipalMayNotUseIsRefusedWithEveryFix() throws Exception {
    sandbox.faults().denyMailbox(OTHER);
    Report r = doctor(GOOD, OTHER);
    assertThat(r.get("smtp").status()).isEqualTo(Status.OK);
    assertThat(r.get("mailbox:" + GOOD).summary()).startsWith("granted");
    Check denied = r.get("mailbox:" + OTHER);
    assertThat(denied.status()).isEqualTo(Status.FAIL);
    assertThat(denied.summary()).contains("refused to authenticate").contains("535 5.7.3");
    assertThat(denied.fix()).contains("SMTP.SendAsApp").contains("admin consent")
        .contains("New-ServicePrincipal -AppId " + sandbox.clientId()).contains("Enterprise application")
        .contains("Add-MailboxPermission -Identity " + OTHER).contains("FullAccess")
        .contains("Set-CASMailbox " + OTHER + " -SmtpClientAuthenticationDisabled $false");
  }

  @Test
  void smtpAuthDisabledForTheMailboxOrTheOrganisationIsNamed() throws Exception {
    sandbox.faults().smtp().authDisabledFor(OTHER);
    Check mailbox = doctor(OTHER).get("mailbox:" + OTHER);
    assertThat(mailbox.status()).isEqualTo(Status.FAIL);
    assertThat(mailbox.summary()).contains("SMTP AUTH is disabled for the mailbox");
    assertThat(mailbox.fix()).contains("Set-CASMailbox " + OTHER + " -SmtpClientAuthenticationDisabled $false");

    sandbox.faults().smtp().authDisabled(true);
    Check tenant = doctor(GOOD).get("mailbox:" + GOOD);
    assertThat(tenant.summary()).contains("SMTP AUTH is disabled for the organisation");
    assertThat(tenant.fix()).contains("Set-TransportConfig -SmtpClientAuthenticationDisabled $false");
  }

  @Test
  void sendAsDeniedIsToldApartFromAuthentication() throws Exception {
    sandbox.faults().smtp().reply(SmtpFaults.Stage.MAIL,
        "550 5.7.60 SMTP; Client does not have permissions to send as this sender", 1);
    Check c = doctor(GOOD).get("mailbox:" + GOOD);
    assertThat(c.status()).isEqualTo(Status.FAIL);
    assertThat(c.summary()).contains("SendAs denied").contains("5.7.60");
    assertThat(c.fix()).contains("Add-RecipientPermission " + GOOD).contains("SendAs");
  }

  @Test
  void aFirewallThatStripsStartTlsStopsBeforeAnyToken() throws Exception {
    sandbox.faults().smtp().startTlsStripped(true);
    Report r = doctor(GOOD);
    Check gate = r.get("smtp");
    assertThat(gate.status()).isEqualTo(Status.FAIL);
    assertThat(gate.summary()).contains("did not offer STARTTLS").contains("never sends a token or mail in clear text");
    assertThat(gate.fix()).contains("firewall").contains("587");
    assertThat(r.get("mailbox:" + GOOD).status()).isEqualTo(Status.SKIP);
  }

  @Test
  void aBlockedPort587IsExplained() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    env.put("RELAY365_SMTP_OAUTH_SERVER", "127.0.0.1:" + closed);
    Check gate = doctor(GOOD).get("smtp");
    assertThat(gate.status()).isEqualTo(Status.FAIL);
    assertThat(gate.summary()).contains("cannot reach 127.0.0.1:" + closed);
    assertThat(gate.fix()).contains("allow outbound TCP port " + closed);
  }
}
