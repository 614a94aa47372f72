package io.relay365;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.relay365.sandbox.ReceivedMessage;
import jakarta.activation.DataHandler;
import jakarta.mail.BodyPart;
import jakarta.mail.Message;
import jakarta.mail.Multipart;
import jakarta.mail.Session;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeBodyPart;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import jakarta.mail.util.ByteArrayDataSource;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole path with delivery.transport: graph, one setting away from the EWS relay of EndToEndTest:
 * real SMTP clients → relay (real listener, spool, msal4j, vertx-web-client over real HTTPS) → the
 * sandbox's Graph, which checks what Microsoft Graph checks.
 */
class GraphEndToEndTest {
  @TempDir
  Path dir;

  RelayHarness h;

  @AfterEach
  void tearDown() throws Exception {
    if (h != null) {
      h.close();
    }
  }

  RelayHarness graphRelay() throws Exception {
    h = new RelayHarness(dir);
    h.env.put("RELAY365_DELIVERY_TRANSPORT", "graph");
    return h.startSandbox().startRelay();
  }

  @Test
  void realClientMultipartMessageArrivesOnceUnchangedWithTheHiddenRecipientInBccOnly() throws Exception {
    graphRelay();
    MimeMessage msg = EndToEndTest.richMessage(); // UTF-8 subject, HTML with inline image, 2 MB PDF
    ByteArrayOutputStream sent = new ByteArrayOutputStream();
    msg.writeTo(sent);

    // the hidden recipient first: nothing the relay adds may name it
    h.send(msg, "hidden@partner.example", "alice@contoso.example");

    await().atMost(Duration.ofSeconds(30)).until(() -> !h.sandbox.received().isEmpty());
    await().atMost(Duration.ofSeconds(10)).until(() -> h.relay.spool().size() == 0);
    List<ReceivedMessage> got = h.sandbox.received();
    assertThat(got).hasSize(1);
    ReceivedMessage r = got.get(0);
    assertThat(r.transport()).isEqualTo("graph");
    assertThat(r.path()).isEqualTo("sendMail");
    assertThat(r.mailbox()).isEqualTo("copier@contoso.example");
    assertThat(r.tokenId()).isNotBlank();
    assertThat(r.bccRecipients()).containsExactly("hidden@partner.example");
    // what the recipients see: exactly what the client sent after the relay's Received:, no Bcc:
    String mime = new String(r.mime(), StandardCharsets.ISO_8859_1);
    assertThat(mime).doesNotContain("hidden@partner.example").doesNotContainIgnoringCase("\r\nBcc:");
    assertThat(EndToEndTest.withoutLeadingReceived(r.mime())).isEqualTo(sent.toByteArray());
    assertThat(r.subject()).isEqualTo("Scan fertig – Grüße, 日本語 ✓");
    assertThat(h.sandbox.tokenRequests()).isEqualTo(1);
    assertThat(h.sandbox.ewsRequests()).as("Graph only").isZero();
  }

  @Test
  void aThirtyFiveMegabyteScanGoesThroughTheLargeMessagePathIntact() throws Exception {
    graphRelay();
    byte[] pdf = new byte[25 * 1024 * 1024]; // ≈ 34 MB as MIME: just under the 35 MB limits
    new Random(35).nextBytes(pdf);
    MimeMessage msg = new MimeMessage(Session.getInstance(new Properties()));
    msg.setFrom(new InternetAddress("scanner@contoso.example"));
    msg.setRecipient(Message.RecipientType.TO, new InternetAddress("alice@contoso.example"));
    msg.setSubject("Scan 35 MB", "UTF-8");
    MimeBodyPart text = new MimeBodyPart();
    text.setText("Your scan is attached.", "UTF-8");
    MimeBodyPart scan = new MimeBodyPart();
    scan.setDataHandler(new DataHandler(new ByteArrayDataSource(pdf, "application/pdf")));
    scan.setFileName("scan-35MB.pdf");
    msg.setContent(new MimeMultipart(text, scan));
    msg.saveChanges();

    h.send(msg, "alice@contoso.example", "archive@partner.example");

    await().atMost(Duration.ofSeconds(90)).until(() -> !h.sandbox.received().isEmpty());
    await().atMost(Duration.ofSeconds(10)).until(() -> h.relay.spool().size() == 0);
    ReceivedMessage r = h.sandbox.received().get(0);
    assertThat(r.path()).isEqualTo("draft+upload");
    assertThat(r.bccRecipients()).containsExactly("archive@partner.example");
    assertThat(h.sandbox.graphUploadRequests()).as("25 MiB in chunks of 3.75 MiB").isEqualTo(7);
    assertThat(h.sandbox.graphDrafts()).isZero();
    MimeMessage arrived = new MimeMessage(Session.getInstance(new Properties()), new ByteArrayInputStream(r.mime()));
    assertThat(arrived.getSubject()).isEqualTo("Scan 35 MB");
    Multipart mp = (Multipart) arrived.getContent();
    BodyPart att = null;
    for (int i = 0; i < mp.getCount(); i++) {
      if ("scan-35MB.pdf".equals(mp.getBodyPart(i).getFileName())) {
        att = mp.getBodyPart(i);
      }
    }
    assertThat(att).as("the scan is attached").isNotNull();
    byte[] bytes = att.getInputStream().readAllBytes();
    assertThat(bytes.length).isEqualTo(pdf.length);
    assertThat(MessageDigest.getInstance("SHA-256").digest(bytes))
        .isEqualTo(MessageDigest.getInstance("SHA-256").digest(pdf));
    assertThat(arrived.getHeader("Received")).as("the relay's trace header is kept").isNotNull();
  }

  @Test
  void hundredMessagesOnTenConnectionsAreDeliveredWithOneToken() throws Exception {
    graphRelay();
    h.awaitDelivered(h.sendInParallel(10, 10));
    assertThat(h.sandbox.received()).extracting(ReceivedMessage::transport).containsOnly("graph");
    assertThat(h.sandbox.tokenRequests()).isEqualTo(1);
  }

  /**
   * A tenant that consented Mail.Send but not Mail.ReadWrite: a large scan waits with an alert that the
   * mailbox's small mail, which keeps flowing, does not clear; once the admin grants the permission,
   * "queue retry --all" delivers it without a restart (the relay drops its token: a new one carries the role).
   */
  @Test
  void withoutMailReadWriteOnlyLargeMailWaitsAndRetryAllDeliversItOnceGranted() throws Exception {
    h = new RelayHarness(dir);
    h.env.put("RELAY365_DELIVERY_TRANSPORT", "graph");
    h.startSandbox();
    h.sandbox.faults().rolesInToken(List.of("Mail.Send"));
    h.startRelay();

    byte[] pdf = new byte[5 * 1024 * 1024]; // ≈ 7 MB as MIME: over graph.max-request-size, the draft path
    new Random(5).nextBytes(pdf);
    MimeMessage big = new MimeMessage(Session.getInstance(new Properties()));
    big.setFrom(new InternetAddress("scanner@contoso.example"));
    big.setRecipient(Message.RecipientType.TO, new InternetAddress("alice@contoso.example"));
    big.setSubject("big scan");
    MimeBodyPart scan = new MimeBodyPart();
    scan.setDataHandler(new DataHandler(new ByteArrayDataSource(pdf, "application/pdf")));
    scan.setFileName("scan.pdf");
    big.setContent(new MimeMultipart(scan));
    big.saveChanges();
    h.send(big, "alice@contoso.example");
    String alert = "messages:ErrorAccessDenied";
    await().atMost(Duration.ofSeconds(30)).until(() -> h.relay.status().alerts().stream()
        .anyMatch(a -> a.key().equals(alert) && a.text().contains("Mail.ReadWrite")));

    MimeMessage small = new MimeMessage(Session.getInstance(new Properties()));
    small.setFrom(new InternetAddress("scanner@contoso.example"));
    small.setRecipient(Message.RecipientType.TO, new InternetAddress("alice@contoso.example"));
    small.setSubject("small page");
    small.setText("one page");
    h.send(small, "alice@contoso.example");
    await().atMost(Duration.ofSeconds(30)).until(() -> h.sandbox.received().size() == 1);
    assertThat(h.sandbox.received().get(0).subject()).isEqualTo("small page");
    assertThat(h.relay.spool().size()).as("the scan still waits").isEqualTo(1);
    assertThat(h.relay.status().alerts()).as("a small delivery does not clear it")
        .anyMatch(a -> a.key().equals(alert));

    h.sandbox.faults().reset(); // the admin grants Mail.ReadWrite
    assertThat(Main.run("queue", "--spool", dir.resolve("spool").toString(), "retry", "--all")).isZero();
    await().atMost(Duration.ofSeconds(30)).until(() -> h.sandbox.received().size() == 2);
    await().atMost(Duration.ofSeconds(10)).until(() -> h.relay.spool().size() == 0);
    assertThat(h.sandbox.received().get(1).path()).isEqualTo("draft+upload");
    assertThat(h.relay.status().alerts()).noneMatch(a -> a.key().equals(alert));
  }

}
