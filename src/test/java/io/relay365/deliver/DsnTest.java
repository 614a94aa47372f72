package io.relay365.deliver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.relay365.store.Envelope;
import jakarta.mail.Session;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The failure notice: a real RFC 3464 report a mail client can read, and no header injection. */
class DsnTest {
  @TempDir
  Path dir;

  Envelope env(String sender, String... rcpts) {
    return new Envelope(1, "0abc123def456ghj", sender, List.of(rcpts), "10.0.0.5", "copier",
        Instant.parse("2026-03-01T10:00:00Z"), 100, 3, null, "x");
  }

  @Test
  void isAMultipartReportWithStatusPerRecipientAndTheOriginalHeaders() throws Exception {
    Path original = dir.resolve("message.eml");
    Files.writeString(original, "Subject: Scan 42\r\nMessage-ID: <m1@dev>\r\n\r\nsecret body\r\n");
    byte[] b = Dsn.compose(env("scanner@contoso.example", "a@example.com", "b@example.com"), "5.3.4",
        "permanent ErrorMessageSizeExceeded: too big", "postmaster@contoso.example", "relay.test", original,
        Instant.parse("2026-03-02T10:00:00Z"), "r4nd");

    MimeMessage m = new MimeMessage(Session.getInstance(new Properties()), new ByteArrayInputStream(b));
    assertThat(m.getContentType()).contains("multipart/report").contains("report-type=delivery-status");
    assertThat(m.getHeader("To")[0]).isEqualTo("<scanner@contoso.example>");
    assertThat(m.getHeader("Auto-Submitted")[0]).isEqualTo("auto-replied");
    MimeMultipart mp = (MimeMultipart) m.getContent();
    assertThat(mp.getCount()).isEqualTo(3);
    assertThat(mp.getBodyPart(1).getContentType()).startsWith("message/delivery-status");
    String status = new String(mp.getBodyPart(1).getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
    assertThat(status).contains("Reporting-MTA: dns; relay.test").contains("Final-Recipient: rfc822; a@example.com")
        .contains("Final-Recipient: rfc822; b@example.com").contains("Action: failed").contains("Status: 5.3.4");
    String headers = new String(mp.getBodyPart(2).getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
    assertThat(headers).contains("Subject: Scan 42").doesNotContain("secret body");
  }

  @Test
  void crlfInAnyOutsideValueCannotAddAHeader() throws Exception {
    byte[] b = Dsn.compose(env("scanner@contoso.example", "a@example.com\r\nBcc: victim@example.com"),
        "5.0.0", "bad\r\nBcc: evil@example.com\nX-Injected: 1", "postmaster@contoso.example",
        "relay.test\r\nX-Host: 1", null, Instant.now(), "r\r\nX-R: 1");
    String text = new String(b, StandardCharsets.US_ASCII);
    for (String line : text.split("\r\n")) {
      assertThat(line).doesNotStartWith("Bcc:").doesNotStartWith("X-Injected").doesNotStartWith("X-Host")
          .doesNotStartWith("X-R:");
    }
    assertThat(text.replace("\r\n", "")).doesNotContain("\r").doesNotContain("\n");
    assertThatThrownBy(() -> Dsn.compose(env("a@b.example\r\nBcc: x@y.example", "a@example.com"), "5.0.0", "r",
        "postmaster@contoso.example", "h", null, Instant.now(), "r")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void neverForTheNullSenderNorForANotice() {
    assertThat(Dsn.wanted(env("", "a@example.com"))).isFalse();
    assertThat(Dsn.wanted(new Envelope(1, "x", "", List.of("a@example.com"), Dsn.CLIENT, "", Instant.now(), 1, 0,
        null, null))).isFalse();
    assertThat(Dsn.wanted(env("scanner@contoso.example", "a@example.com"))).isTrue();
  }
}
