package io.relay365.deliver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import jakarta.mail.Multipart;
import jakarta.mail.Session;
import jakarta.mail.internet.MimeMessage;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How a spooled message is shaped for Graph: the Bcc: header, and the draft without its attachments. */
class GraphMessageTest {
  @TempDir
  Path dir;

  final MimeHygiene hygiene = new MimeHygiene(java.nio.charset.Charset.forName("windows-1252"));

  static final String HEAD = "From: scanner@contoso.example\r\nTo: alice@contoso.example\r\nSubject: s\r\n"
      + "MIME-Version: 1.0\r\n";

  static String b64Lines(byte[] data) {
    return Base64.getMimeEncoder(76, "\r\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(data) + "\r\n";
  }

  static byte[] bytes(int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) (i * 31 + 7);
    }
    return b;
  }

  Path file(String s) throws Exception {
    return Files.writeString(dir.resolve("m" + System.nanoTime() + ".eml"), s, StandardCharsets.ISO_8859_1);
  }

  static String decode(byte[] base64) {
    return new String(Base64.getDecoder().decode(base64), StandardCharsets.ISO_8859_1);
  }

  @Test
  void envelopeOnlyRecipientsBecomeABccHeaderAndTheClientsBccIsDropped() {
    byte[] in = (HEAD + "Bcc: someone-else@elsewhere.example\r\n\r\nbody\r\n").getBytes(StandardCharsets.US_ASCII);
    byte[] out = GraphMessage.forGraph(in, List.of("h1@partner.example", "h2@partner.example"), hygiene);
    assertThat(new String(out, StandardCharsets.US_ASCII))
        .isEqualTo(HEAD + "Bcc: h1@partner.example, h2@partner.example\r\n\r\nbody\r\n");
    // nobody hidden: no Bcc at all, and the client's is still dropped
    assertThat(new String(GraphMessage.forGraph(in, List.of(), hygiene), StandardCharsets.US_ASCII))
        .isEqualTo(HEAD + "\r\nbody\r\n");
    // bare LF from an old device: CRLF, and the header still lands in the header block
    byte[] lf = "To: a@contoso.example\nSubject: x\n\nbody\n".getBytes(StandardCharsets.US_ASCII);
    assertThat(new String(GraphMessage.forGraph(lf, List.of("h@partner.example"), hygiene), StandardCharsets.US_ASCII))
        .isEqualTo("To: a@contoso.example\r\nSubject: x\r\nBcc: h@partner.example\r\n\r\nbody\r\n");
  }

  @Test
  void aLongBccHeaderIsFolded() {
    List<String> many = new java.util.ArrayList<>();
    for (int i = 0; i < 20; i++) {
      many.add("recipient-number-" + i + "@partner.example");
    }
    String field = new String(GraphMessage.bccField(many), StandardCharsets.US_ASCII);
    for (String line : field.split("\r\n")) {
      assertThat(line.length()).isLessThanOrEqualTo(78);
    }
    assertThat(field.replace("\r\n ", " ")).startsWith("Bcc: recipient-number-0@partner.example, ")
        .endsWith("recipient-number-19@partner.example\r\n");
  }

  @Test
  void theDraftIsTheMessageWithoutItsBigAttachmentByteForByte() throws Exception {
    byte[] pdf = bytes(300_000);
    String text = "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n";
    String att = "--b1\r\nContent-Type: application/pdf; name=\"scan.pdf\"\r\nContent-Transfer-Encoding: base64\r\n"
        + "Content-Disposition: attachment; filename=\"scan.pdf\"\r\n\r\n" + b64Lines(pdf);
    String msg = HEAD + "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n" + text + att
        + "--b1--\r\nepilogue\r\n";
    Path f = file(msg);

    GraphMessage.Draft d = GraphMessage.draft(f, List.of(), hygiene, 64 * 1024);

    assertThat(decode(d.base64())).isEqualTo(HEAD + "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
        + "preamble\r\n" + text + "--b1--\r\nepilogue\r\n");
    assertThat(d.attachments()).hasSize(1);
    GraphMessage.Attachment a = d.attachments().get(0);
    assertThat(a.name()).isEqualTo("scan.pdf");
    assertThat(a.contentType()).isEqualTo("application/pdf");
    assertThat(a.inline()).isFalse();
    assertThat(a.size()).isEqualTo(pdf.length);
    try (InputStream in = a.open(f)) {
      assertThat(in.readAllBytes()).isEqualTo(pdf);
    }
  }

  @Test
  void inlineImagesKeepTheirContentIdAndAnInnerBoundaryNeverEndsAnOuterPart() throws Exception {
    byte[] png = bytes(200_000);
    // the inner boundary starts with the outer one: "--b" must not match "--b2"
    String related = "--b\r\nContent-Type: multipart/related; boundary=b2\r\n\r\n"
        + "--b2\r\nContent-Type: text/html\r\n\r\n<img src=\"cid:logo@x\">\r\n"
        + "--b2\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b64Lines(png) + "--b2--\r\n";
    String msg = HEAD + "Content-Type: multipart/mixed; boundary=b\r\n\r\n" + related + "--b--\r\n";
    Path f = file(msg);

    GraphMessage.Draft d = GraphMessage.draft(f, List.of(), hygiene, 64 * 1024);

    GraphMessage.Attachment a = d.attachments().get(0);
    assertThat(a.inline()).isTrue();
    assertThat(a.contentId()).isEqualTo("logo@x");
    assertThat(a.name()).isEqualTo("attachment-1.png");
    try (InputStream in = a.open(f)) {
      assertThat(in.readAllBytes()).isEqualTo(png);
    }
    assertThat(decode(d.base64())).contains("<img src=\"cid:logo@x\">").doesNotContain("image/png");
  }

  @Test
  void aMultipartLeftWithoutPartsKeepsAnEmptyTextPart() throws Exception {
    byte[] pdf = bytes(300_000);
    String msg = HEAD + "Content-Type: multipart/mixed; boundary=only\r\n\r\n"
        + "--only\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64Lines(pdf)
        + "--only--\r\n";
    GraphMessage.Draft d = GraphMessage.draft(file(msg), List.of("h@partner.example"), hygiene, 64 * 1024);
    String skeleton = decode(d.base64());
    assertThat(skeleton).contains("Bcc: h@partner.example\r\n");
    MimeMessage parsed = new MimeMessage(Session.getInstance(new Properties()),
        new ByteArrayInputStream(skeleton.getBytes(StandardCharsets.ISO_8859_1)));
    Multipart mp = (Multipart) parsed.getContent();
    assertThat(mp.getCount()).isEqualTo(1);
    assertThat(mp.getBodyPart(0).isMimeType("text/plain")).isTrue();
  }

  @Test
  void aMessageThatCannotBeSplitIsTooLarge() throws Exception {
    String msg = HEAD + "\r\n" + "x".repeat(100_000) + "\r\n";
    assertThatThrownBy(() -> GraphMessage.draft(file(msg), List.of(), hygiene, 64 * 1024))
        .isInstanceOf(GraphMessage.TooLarge.class).hasMessageContaining("single part");
    // text parts are the message, not attachments: they stay, and then it does not fit
    String text = HEAD + "Content-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\nContent-Type: text/plain\r\n\r\n"
        + "y".repeat(100_000) + "\r\n--a--\r\n";
    assertThatThrownBy(() -> GraphMessage.draft(file(text), List.of(), hygiene, 64 * 1024))
        .isInstanceOf(GraphMessage.TooLarge.class);
  }

  @Test
  void aSmallMessageIsSentWholeAndALargeOneIsNotReadWhole() throws Exception {
    Path small = file(HEAD + "\r\nbody\r\n");
    assertThat(decode(GraphMessage.whole(small, List.of(), hygiene, 4 * 1024 * 1024)))
        .isEqualTo(HEAD + "\r\nbody\r\n");
    Path big = file(HEAD + "\r\n" + "z".repeat(4 * 1024 * 1024) + "\r\n");
    assertThat(GraphMessage.whole(big, List.of(), hygiene, 4 * 1024 * 1024)).isNull();
  }
}
