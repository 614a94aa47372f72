package io.relay365.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import io.relay365.doctor.Check.Status;
import io.relay365.sandbox.GraphFaults.Op;
import java.net.ServerSocket;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The doctor with delivery.transport: graph against the sandbox's Graph, one test per failure an
 * administrator meets when moving from EWS to Graph: each explanation names the cause and the step.
 */
class GraphDoctorTest extends DoctorFixture {
  @Override
  String transport() {
    return "graph";
  }

  @Test
  void aHealthyGraphSetupPassesEveryCheckAndSendsNothing() throws Exception {
    int received = sandbox.received().size();
    Report r = doctor(GOOD, OTHER);
    assertThat(r.ok()).as(r.toText()).isTrue();
    assertThat(r.checks()).extracting(Check::status).as(r.toText()).containsOnly(Status.OK);
    assertThat(r.get("config").summary()).contains("Graph " + sandbox.graphUrl());
    assertThat(r.get("permissions").summary()).contains("Mail.Send").contains(sandbox.graphUrl());
    assertThat(r.get("permissions:large").summary()).contains("Mail.ReadWrite");
    assertThat(r.get("graph").summary()).contains("accepts this app's token");
    assertThat(r.get("mailbox:" + GOOD).summary()).startsWith("granted").contains("Mail.Send")
        .contains("Mail.ReadWrite");
    assertThat(sandbox.received()).as("the probes send nothing").hasSize(received);
    assertThat(sandbox.graphDrafts()).isZero();
  }

  @Test
  void withoutMailReadWriteLargeMessagesAreAWarningThatNamesTheFix() throws Exception {
    sandbox.faults().rolesInToken(List.of("Mail.Send"));
    Report r = doctor(GOOD);
    Check large = r.get("permissions:large");
    assertThat(large.status()).isEqualTo(Status.WARN);
    assertThat(large.summary()).contains("no Mail.ReadWrite").contains("4 MB");
    assertThat(large.fix()).contains("Microsoft Graph → Application permissions → Mail.ReadWrite")
        .contains("Grant admin consent");
    assertThat(large.fix()).as("Graph's own steps, not EWS's").contains("\"Moving off EWS\", Graph steps 1–2");
    assertThat(large.step()).as("not a step of README section 2").isNull();
    assertThat(r.get("mailbox:" + GOOD).status()).isEqualTo(Status.OK);
    assertThat(r.ok()).as("small mail still goes").isTrue();
  }

  @Test
  void withoutMailSendThePermissionAndItsApiAreNamed() throws Exception {
    sandbox.faults().rolesInToken(List.of("Mail.ReadWrite"));
    Report r = doctor(GOOD);
    Check p = r.get("permissions");
    assertThat(p.status()).isEqualTo(Status.FAIL);
    assertThat(p.summary()).contains("but not Mail.Send");
    assertThat(p.fix()).contains("Microsoft Graph → Application permissions → Mail.Send").contains("admin consent");
    assertThat(p.fix()).as("Graph's own steps, not EWS's").contains("\"Moving off EWS\", Graph steps 1–2");
    assertThat(p.step()).as("not a step of README section 2").isNull();
    assertThat(r.ok()).isFalse();
  }

  @Test
  void anExchangeScopeLeftFromEwsStopsAtTheConfigurationWithTheFix() {
    env.put("RELAY365_MICROSOFT_SCOPE", sandbox.scope()); // the EWS resource, left over from ews
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> doctor(GOOD))
        .isInstanceOf(io.relay365.config.ConfigException.class)
        .hasMessageContaining("microsoft.scope").hasMessageContaining("delivery.transport is graph")
        .hasMessageContaining(sandbox.graphUrl() + "/.default");
  }

  @Test
  void aMailboxOutsideTheApplicationAccessPolicyIsDeniedAndOthersGranted() throws Exception {
    sandbox.faults().denyMailbox(OTHER);
    Report r = doctor(GOOD, OTHER);
    assertThat(r.get("mailbox:" + GOOD).summary()).startsWith("granted");
    Check denied = r.get("mailbox:" + OTHER);
    assertThat(denied.status()).isEqualTo(Status.FAIL);
    assertThat(denied.summary()).contains("denied by an Application Access Policy").contains("[RAOP]");
    assertThat(denied.fix()).contains("Test-ApplicationAccessPolicy -AppId " + sandbox.clientId() + " -Identity "
        + OTHER);
    assertThat(denied.step()).isEqualTo(5);
    assertThat(r.ok()).isFalse();
  }

  @Test
  void aMailboxThatDoesNotExistIsNamed() throws Exception {
    sandbox.faults().unknownMailbox(OTHER);
    Check c = doctor(OTHER).get("mailbox:" + OTHER);
    assertThat(c.status()).isEqualTo(Status.FAIL);
    assertThat(c.summary()).contains("no such mailbox").contains("ErrorInvalidUser");
    assertThat(c.step()).isEqualTo(7);
  }

  @Test
  void anAccessDenialWithoutPolicyPointsAtConsentAndRbacScope() throws Exception {
    sandbox.faults().graph().error(Op.SEND_MAIL, 403, "ErrorAccessDenied", null, 1);
    Check c = doctor(OTHER).get("mailbox:" + OTHER);
    assertThat(c.status()).isEqualTo(Status.FAIL);
    assertThat(c.summary()).contains("may not send as this mailbox").contains("RBAC for Applications");
    assertThat(c.fix()).contains("New-ManagementRoleAssignment -App " + sandbox.clientId())
        .contains("Application Mail.Send");
  }

  @Test
  void graphUnreachableIsAGateFailureAndMailboxesAreSkipped() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    env.put("RELAY365_GRAPH_URL", "https://127.0.0.1:" + closed);
    env.put("RELAY365_MICROSOFT_SCOPE", sandbox.graphUrl() + "/.default");
    Report r = doctor(GOOD);
    Check g = r.get("graph");
    assertThat(g.status()).isEqualTo(Status.FAIL);
    assertThat(g.summary()).contains("cannot reach https://127.0.0.1:" + closed);
    assertThat(g.fix()).contains("outbound HTTPS");
    assertThat(r.get("mailbox:" + GOOD).status()).isEqualTo(Status.SKIP);
  }
}
