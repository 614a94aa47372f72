package io.relay365;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.relay365.sandbox.ReceivedMessage;
import jakarta.activation.DataHandler;
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeBodyPart;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import jakarta.mail.util.ByteArrayDataSource;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole path with real parts at the edges: real SMTP clients → relay (real listener, real spool
 * on disk, msal4j, ews-java-api over real HTTPS) → sandbox, which checks what Microsoft checks.
 */
class EndToEndTest {
  @TempDir
  Path dir;

  RelayHarness h;

  @AfterEach
  void tearDown() throws Exception {
    if (h != null) {
      h.close();
    }
  }

  @Test
  void realClientMultipartMessageReachesExchangeUnchangedWithHiddenRecipientInBcc() throws Exception {
    h = new RelayHarness(dir).startSandbox().startRelay();
    MimeMessage msg = richMessage();
    ByteArrayOutputStream sent = new ByteArrayOutputStream();
    msg.writeTo(sent);

    // The hidden recipient first: nothing the relay adds (Received: "for <…>") may name it.
    h.send(msg, "hidden@partner.example", "alice@contoso.example");

    await().atMost(Duration.ofSeconds(30)).until(() -> !h.sandbox.received().isEmpty());
    await().atMost(Duration.ofSeconds(10)).until(() -> h.relay.spool().size() == 0);
    List<ReceivedMessage> got = h.sandbox.received();
    assertThat(got).hasSize(1);
    ReceivedMessage r = got.get(0);
    assertThat(r.mailbox()).isEqualTo("copier@contoso.example");
    assertThat(r.anchorMailbox()).isEqualTo("copier@contoso.example");
    assertThat(r.disposition()).isEqualTo("SendAndSaveCopy");
    assertThat(r.tokenId()).isNotBlank();
    assertThat(r.bccRecipients()).containsExactly("hidden@partner.example");
    String mime = new String(r.mime(), StandardCharsets.ISO_8859_1);
    assertThat(mime).doesNotContain("hidden@partner.example");
    // Exactly what the client sent, after the relay's own trace header.
    assertThat(mime).startsWith("Received: ");
    assertThat(withoutLeadingReceived(r.mime())).isEqualTo(sent.toByteArray());
    assertThat(h.sandbox.tokenRequests()).isEqualTo(1);
    assertThat(h.sandbox.discoveryRequests()).isZero();
  }

  @Test
  void everyMessageSizeFromZeroToTenMegabytesArrivesAsTheSpooledBytes() throws Exception {
    h = new RelayHarness(dir).startSandbox();
    h.sandbox.faults().ewsHttpStatus(503, 1_000_000); // Exchange "down": everything stays spooled
    h.startRelay();
    int[] sizes = {0, 1, 2, 4, 5, 998, 1_000, 65_537, 1_048_577, 3_000_001, 10 * 1024 * 1024 - 1};
    Random random = new Random(42);
    Map<String, byte[]> spooled = new HashMap<>();
    try (SmtpDialog smtp = new SmtpDialog(h.smtpPort())) {
      smtp.expect("250", "EHLO sizes.example");
      for (int size : sizes) {
        byte[] body = printable(random, size);
        String id = smtp.send("sizes@contoso.example", new String[] {"alice@contoso.example"}, stuffed(body));
        spooled.put(id, Files.readAllBytes(h.relay.spool().messageFile(id)));
      }
    }
    assertThat(h.relay.spool().size()).isEqualTo(sizes.length);
    h.sandbox.faults().reset();
    await().atMost(Duration.ofSeconds(60)).until(() -> h.relay.spool().size() == 0);
    assertThat(h.sandbox.received()).hasSize(sizes.length);
    for (ReceivedMessage r : h.sandbox.received()) {
      String id = queueId(r.mime());
      assertThat(spooled).containsKey(id);
      assertThat(r.mime()).as("message %s", id).isEqualTo(spooled.get(id));
    }
  }

  @Test
  void hundredMessagesOnTenConnectionsNeedOneToken() throws Exception {
    h = new RelayHarness(dir).startSandbox().startRelay();
    h.awaitDelivered(h.sendInParallel(10, 10));
    assertThat(h.sandbox.tokenRequests()).isEqualTo(1);
  }

  @Test
  void linesStartingWithADotLoseExactlyOneDot() throws Exception {
    h = new RelayHarness(dir).startSandbox().startRelay();
    String original = "From: dots@contoso.example\r\nTo: alice@contoso.example\r\nSubject: dots\r\n"
        + "Message-ID: <dots@contoso.example>\r\n\r\n"
        + ".\r\n..\r\n.x\r\n..y\r\n...\r\n x.\r\n.\r\nend\r\n";
    try (SmtpDialog smtp = new SmtpDialog(h.smtpPort())) {
      smtp.expect("250", "EHLO dots.example");
      smtp.send("dots@contoso.example", new String[] {"alice@contoso.example"},
          stuffed(original.getBytes(StandardCharsets.US_ASCII)));
    }
    await().atMost(Duration.ofSeconds(30)).until(() -> !h.sandbox.received().isEmpty());
    byte[] got = h.sandbox.received().get(0).mime();
    assertThat(new String(withoutLeadingReceived(got), StandardCharsets.US_ASCII)).isEqualTo(original);
  }

  @Test
  void mailSpooledWhileExchangeIsDownIsDeliveredAfterBothRestart() throws Exception {
    h = new RelayHarness(dir).startSandbox().startRelay();
    h.stopSandbox(); // Microsoft unreachable: connections refused
    List<String> ids = new ArrayList<>();
    try (SmtpDialog smtp = new SmtpDialog(h.smtpPort())) {
      smtp.expect("250", "EHLO outage.example");
      for (int i = 0; i < 3; i++) {
        ids.add(smtp.send("outage@contoso.example", new String[] {"alice@contoso.example"},
            ("Subject: during outage " + i + "\r\n\r\nqueued\r\n").getBytes(StandardCharsets.US_ASCII)));
      }
    }
    // They wait in the spool with their failed attempt recorded.
    await().atMost(Duration.ofSeconds(30)).until(() -> ids.stream().allMatch(id -> attempts(id) >= 1));
    h.stopRelay();
    assertThat(h.relay.spool().queued()).extracting(e -> e.id()).containsExactlyInAnyOrderElementsOf(ids);

    h.startSandbox().startRelay();
    await().atMost(Duration.ofSeconds(60)).until(() -> h.sandbox.received().size() == 3);
    await().atMost(Duration.ofSeconds(10)).until(() -> h.relay.spool().size() == 0);
    assertThat(h.sandbox.received()).extracting(r -> queueId(r.mime())).containsExactlyInAnyOrderElementsOf(ids);
  }

  @Test
  void relayRefusesAnExchangeServerItCannotVerify() throws Exception {
    h = new RelayHarness(dir).startSandbox();
    h.env.put("RELAY365_MICROSOFT_CA_FILE", ""); // forget the sandbox CA: its certificate is now untrusted
    h.startRelay();
    String id;
    try (SmtpDialog smtp = new SmtpDialog(h.smtpPort())) {
      smtp.expect("250", "EHLO tls.example");
      id = smtp.send("tls@contoso.example", new String[] {"alice@contoso.example"},
          "Subject: tls\r\n\r\nx\r\n".getBytes(StandardCharsets.US_ASCII));
    }
    await().atMost(Duration.ofSeconds(30)).until(() -> attempts(id) >= 1);
    assertThat(h.sandbox.received()).isEmpty();
    assertThat(h.sandbox.ewsRequests()).isZero();
    assertThat(h.relay.spool().read(id)).isPresent();
  }

  private int attempts(String id) {
    try {
      return h.relay.spool().read(id).map(e -> e.attempts()).orElse(-1);
    } catch (Exception e) {
      return -1;
    }
  }

  static MimeMessage richMessage() throws Exception {
    MimeMessage msg = new MimeMessage(Session.getInstance(new Properties()));
    msg.setFrom(new InternetAddress("copier@contoso.example", "Kopierer 3. Stock", "UTF-8"));
    msg.setRecipient(Message.RecipientType.TO, new InternetAddress("alice@contoso.example"));
    msg.setSubject("Scan fertig – Grüße, 日本語 ✓", "UTF-8");

    MimeBodyPart html = new MimeBodyPart();
    html.setText("<html><body><p>Scan attached. Größe: 2 MB</p><img src=\"cid:logo@relay365\"></body></html>",
        "UTF-8", "html");
    MimeBodyPart image = new MimeBodyPart();
    byte[] png = new byte[5_000];
    new Random(7).nextBytes(png);
    image.setDataHandler(new DataHandler(new ByteArrayDataSource(png, "image/png")));
    image.setContentID("<logo@relay365>");
    image.setDisposition("inline");
    MimeMultipart related = new MimeMultipart("related", html, image);
    MimeBodyPart relatedPart = new MimeBodyPart();
    relatedPart.setContent(related);

    MimeBodyPart pdf = new MimeBodyPart();
    byte[] pdfBytes = new byte[2 * 1024 * 1024];
    new Random(11).nextBytes(pdfBytes);
    pdf.setDataHandler(new DataHandler(new ByteArrayDataSource(pdfBytes, "application/pdf")));
    pdf.setFileName("scan-2MB.pdf");

    msg.setContent(new MimeMultipart(relatedPart, pdf)); // multipart/mixed
    msg.saveChanges();
    return msg;
  }

  /** The message without the first header field (the relay's Received:, with its folded lines). */
  static byte[] withoutLeadingReceived(byte[] mime) {
    String s = new String(mime, StandardCharsets.ISO_8859_1);
    assertThat(s).startsWith("Received: ");
    int i = s.indexOf("\r\n");
    while (i >= 0 && i + 2 < s.length() && (s.charAt(i + 2) == ' ' || s.charAt(i + 2) == '\t')) {
      i = s.indexOf("\r\n", i + 2);
    }
    return Arrays.copyOfRange(mime, i + 2, mime.length);
  }

  /** The queue id from the relay's Received: header ("… with ESMTP id <id> …"). */
  static String queueId(byte[] mime) {
    String head = new String(mime, 0, Math.min(mime.length, 2000), StandardCharsets.ISO_8859_1);
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\bid ([A-Za-z0-9._-]+)").matcher(head);
    assertThat(m.find()).as("queue id in %s", head).isTrue();
    return m.group(1);
  }

  /** Random printable lines with CRLF endings, exactly {@code size} bytes, some starting with '.'. */
  static byte[] printable(Random random, int size) {
    byte[] b = new byte[size];
    int col = 0;
    for (int i = 0; i < size; i++) {
      if (col >= 70 && i + 1 < size) {
        b[i++] = '\r';
        b[i] = '\n';
        col = 0;
        continue;
      }
      b[i] = (byte) (col == 0 && random.nextInt(10) == 0 ? '.' : 'A' + random.nextInt(26));
      col++;
    }
    return b;
  }

  /** SMTP dot-stuffing (RFC 5321 4.5.2), plus a final CRLF so the terminating dot is on its own line. */
  static byte[] stuffed(byte[] body) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(body.length + 100);
    boolean lineStart = true;
    for (byte c : body) {
      if (lineStart && c == '.') {
        out.write('.');
      }
      out.write(c);
      lineStart = c == '\n';
    }
    if (!lineStart) {
      out.write('\r');
      out.write('\n');
    }
    return out.toByteArray();
  }
}
