package io.relay365;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.relay365.sandbox.ReceivedMessage;
import jakarta.mail.internet.MimeMessage;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole path with delivery.transport: smtp-oauth: real SMTP clients → relay (listener, spool, msal4j,
 * angus-mail over a real STARTTLS with XOAUTH2) → the sandbox's submission endpoint, which checks what
 * Exchange Online checks. Everything else is configured exactly as for EWS: one setting switches.
 */
class SmtpOauthEndToEndTest {
  @TempDir
  Path dir;

  RelayHarness h;

  @AfterEach
  void tearDown() throws Exception {
    if (h != null) {
      h.close();
    }
  }

  RelayHarness start() throws Exception {
    h = new RelayHarness(dir);
    h.env.put("RELAY365_DELIVERY_TRANSPORT", "smtp-oauth");
    return h.startSandbox().startRelay();
  }

  @Test
  void realClientMultipartMessageArrivesUnchangedWithTheWholeEnvelope() throws Exception {
    start();
    MimeMessage msg = EndToEndTest.richMessage(); // UTF-8 subject, HTML + inline image, 2 MB PDF, one To
    ByteArrayOutputStream sent = new ByteArrayOutputStream();
    msg.writeTo(sent);

    h.send(msg, "hidden@partner.example", "alice@contoso.example");

    await().atMost(Duration.ofSeconds(30)).until(() -> !h.sandbox.received().isEmpty());
    await().atMost(Duration.ofSeconds(10)).until(() -> h.relay.spool().size() == 0);
    List<ReceivedMessage> got = h.sandbox.received();
    assertThat(got).hasSize(1);
    ReceivedMessage r = got.get(0);
    assertThat(r.transport()).isEqualTo("smtp");
    assertThat(r.mailbox()).as("authenticated as the sending mailbox").isEqualTo("copier@contoso.example");
    assertThat(r.envelopeSender()).isEqualTo("copier@contoso.example");
    assertThat(r.envelopeRecipients()).as("exactly the RCPT TO set")
        .containsExactlyInAnyOrder("hidden@partner.example", "alice@contoso.example");
    assertThat(r.bccRecipients()).containsExactly("hidden@partner.example");
    assertThat(new String(r.mime(), StandardCharsets.ISO_8859_1)).doesNotContain("hidden@partner.example");
    // exactly what the client sent, after the relay's own trace header
    assertThat(EndToEndTest.withoutLeadingReceived(r.mime())).isEqualTo(sent.toByteArray());
    assertThat(h.sandbox.tokenRequests()).isEqualTo(1);
  }

  @Test
  void hundredMessagesOnTenConnectionsNeedOneTokenAndFewSessions() throws Exception {
    start();
    h.awaitDelivered(h.sendInParallel(10, 10)); // ten senders, ten messages each: never 30 a minute per mailbox
    assertThat(h.sandbox.tokenRequests()).isEqualTo(1);
    assertThat(h.sandbox.smtpSessions()).as("authenticated sessions are reused per mailbox").isLessThanOrEqualTo(30);
    assertThat(h.sandbox.smtpQuotaRejections()).isZero();
  }
}
