package io.relay365.deliver;

import static org.assertj.core.api.Assertions.assertThat;

import jakarta.mail.Multipart;
import jakarta.mail.Session;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeUtility;
import java.io.ByteArrayInputStream;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MimeHygieneTest {
  private final MimeHygiene hygiene = new MimeHygiene(Charset.forName("windows-1252"));

  private static byte[] bytes(String s, Charset cs) {
    return s.getBytes(cs);
  }

  private static MimeMessage parse(byte[] mime) throws Exception {
    return new MimeMessage(Session.getInstance(new Properties()), new ByteArrayInputStream(mime));
  }

  @Test
  void cleanMessageIsReturnedUntouched() {
    byte[] m = bytes("From: a@x.example\r\nSubject: hi\r\n\r\nbody\r\n", StandardCharsets.US_ASCII);
    assertThat(hygiene.clean(m)).isSameAs(m);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "a\\nb\\n|a\\r\\nb\\r\\n",
      "a\\rb|a\\r\\nb",
      "a\\r\\nb\\n\\nc|a\\r\\nb\\r\\n\\r\\nc",
      "\\n|\\r\\n",
      "a\\r\\r\\nb|a\\r\\n\\r\\nb",
      "x\\r|x\\r\\n"})
  void bareLineEndsBecomeCrlf(String in, String want) {
    byte[] got = MimeHygiene.normaliseLineEnds(unescape(in).getBytes(StandardCharsets.US_ASCII));
    assertThat(new String(got, StandardCharsets.US_ASCII)).isEqualTo(unescape(want));
  }

  private static String unescape(String s) {
    return s.replace("\\r", "\r").replace("\\n", "\n");
  }

  @Test
  void utf8SubjectBytesBecomeAnEncodedWordWithTheSameText() throws Exception {
    byte[] m = bytes("Subject: Grüße aus Köln\r\nFrom: a@x.example\r\n\r\nbody\r\n", StandardCharsets.UTF_8);
    byte[] out = hygiene.clean(m);
    assertAscii(out);
    assertThat(parse(out).getSubject()).isEqualTo("Grüße aus Köln");
    assertThat(new String(out, StandardCharsets.US_ASCII)).endsWith("From: a@x.example\r\n\r\nbody\r\n");
  }

  @Test
  void invalidUtf8IsReadInTheLegacyCharset() throws Exception {
    byte[] m = bytes("Subject: Préavis de réception – 3€\r\n\r\nbody\r\n", Charset.forName("windows-1252"));
    byte[] out = hygiene.clean(m);
    assertAscii(out);
    assertThat(parse(out).getSubject()).isEqualTo("Préavis de réception – 3€");
  }

  @Test
  void addressHeadersEncodeOnlyDisplayNames() throws Exception {
    byte[] m = bytes("From: \"Müller, Hans\" <hans@x.example>\r\nTo: Jürgen <j@x.example>, plain@x.example\r\n"
        + "\r\nbody\r\n", StandardCharsets.UTF_8);
    byte[] out = hygiene.clean(m);
    assertAscii(out);
    MimeMessage msg = parse(out);
    InternetAddress from = (InternetAddress) msg.getFrom()[0];
    assertThat(from.getAddress()).isEqualTo("hans@x.example");
    assertThat(from.getPersonal()).isEqualTo("Müller, Hans");
    assertThat(msg.getAllRecipients()).extracting(a -> ((InternetAddress) a).getAddress())
        .containsExactly("j@x.example", "plain@x.example");
    assertThat(((InternetAddress) msg.getAllRecipients()[0]).getPersonal()).isEqualTo("Jürgen");
  }

  @Test
  void utf8LocalPartIsNeverEncoded() {
    byte[] m = bytes("To: José <josé@x.example>\r\n\r\nb\r\n", StandardCharsets.UTF_8);
    String out = new String(hygiene.clean(m), StandardCharsets.UTF_8);
    assertThat(out).contains("<josé@x.example>").doesNotContain("José <");
  }

  @Test
  void bodyAndBodyPartHeadersStayByteForByte() {
    String body = "--b\r\nContent-Type: text/plain; name=\"Grüße.txt\"\r\n\r\nÄÖÜ\r\n--b--\r\n";
    byte[] m = bytes("Subject: Ä\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + body, StandardCharsets.UTF_8);
    String out = new String(hygiene.clean(m), StandardCharsets.UTF_8);
    assertThat(out).endsWith("\r\n\r\n" + body);
  }

  @Test
  void longLineIsReencodedNotTruncated() throws Exception {
    String longLine = "x".repeat(3000) + "é";
    byte[] m = bytes("From: a@x.example\r\nMessage-ID: <keep@x.example>\r\nContent-Type: text/plain; charset=utf-8\r\n"
        + "Content-Transfer-Encoding: 8bit\r\n\r\nshort\r\n" + longLine + "\r\nend\r\n", StandardCharsets.UTF_8);
    byte[] out = hygiene.clean(m);
    assertThat(MimeHygiene.hasLongLine(out)).isFalse();
    MimeMessage msg = parse(out);
    assertThat(msg.getHeader("Content-Transfer-Encoding", null)).isEqualTo("quoted-printable");
    assertThat(msg.getMessageID()).isEqualTo("<keep@x.example>");
    assertThat((String) msg.getContent()).isEqualTo("short\r\n" + longLine + "\r\nend\r\n");
  }

  @Test
  void longLineInsideOnePartReencodesOnlyThatPart() throws Exception {
    String longLine = "y".repeat(1500);
    byte[] pdf = "%PDF-1.4 tiny".getBytes(StandardCharsets.US_ASCII);
    String b64 = new String(java.util.Base64.getMimeEncoder().encode(pdf), StandardCharsets.US_ASCII);
    byte[] m = bytes("From: a@x.example\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n"
        + "--zz\r\nContent-Type: text/plain\r\n\r\n" + longLine + "\r\n"
        + "--zz\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        + "Content-Disposition: attachment; filename=a.pdf\r\n\r\n" + b64 + "\r\n--zz--\r\n", StandardCharsets.US_ASCII);
    byte[] out = hygiene.clean(m);
    assertThat(MimeHygiene.hasLongLine(out)).isFalse();
    Multipart mp = (Multipart) parse(out).getContent();
    assertThat(((String) mp.getBodyPart(0).getContent()).strip()).isEqualTo(longLine);
    assertThat(mp.getBodyPart(1).getFileName()).isEqualTo("a.pdf");
    assertThat(mp.getBodyPart(1).getInputStream().readAllBytes()).isEqualTo(pdf);
  }

  @Test
  void encodedSubjectDecodesBackForEveryLegacyByte() throws Exception {
    for (int b = 0xA0; b <= 0xFF; b++) {
      byte[] m = new byte[] {'S', 'u', 'b', 'j', 'e', 'c', 't', ':', ' ', (byte) b, '\r', '\n', '\r', '\n'};
      byte[] out = hygiene.clean(m);
      assertAscii(out);
      String want = new String(new byte[] {(byte) b}, Charset.forName("windows-1252"));
      assertThat(MimeUtility.decodeText(parse(out).getHeader("Subject", null))).as("byte %x", b).isEqualTo(want);
    }
  }

  private static void assertAscii(byte[] out) {
    int end = MimeHygiene.headerEnd(out);
    for (int i = 0; i < end; i++) {
      assertThat(out[i]).as("header byte %d", i).isGreaterThanOrEqualTo((byte) 0);
    }
  }
}
