package io.relay365.deliver;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MessageHeadersTest {

  private static MessageHeaders parse(String s) {
    return MessageHeaders.parse(s.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void unfoldsAndFindsValuesCaseInsensitively() {
    MessageHeaders h = parse("Subject: a long\r\n\tsubject\r\nTO: a@example.com,\r\n b@example.com\r\n\r\nTo: body@x\r\n");
    assertThat(h.first("subject")).isEqualTo("a long\tsubject");
    assertThat(h.addressSpecs("To")).containsExactly("a@example.com", "b@example.com");
  }

  @Test
  void stopsAtTheBlankLineSoBodyLinesAreNotHeaders() {
    MessageHeaders h = parse("From: a@example.com\n\nCc: hidden@example.com\n");
    assertThat(h.values("Cc")).isEmpty();
  }

  @Test
  void parsesDisplayNamesWithCommasAndAtSigns() {
    MessageHeaders h = parse("To: \"Doe, John (john@old.example)\" <john@example.com>, \"x@y\" <real@example.com>\r\n\r\n");
    assertThat(h.addressSpecs("To")).containsExactly("john@example.com", "real@example.com");
  }

  @Test
  void encodedDisplayNamesDoNotConfuseTheParser() {
    // "Jürgen, Müller" encoded: the comma is inside the encoded word and must not split the list
    MessageHeaders h = parse("From: =?UTF-8?B?SsO8cmdlbiwgTcO8bGxlcg==?= <jm@example.com>\r\n\r\n");
    assertThat(h.addresses("From")).containsExactly(
        new MessageHeaders.Address("jm@example.com", "=?UTF-8?B?SsO8cmdlbiwgTcO8bGxlcg==?="));
    assertThat(h.fromAddress()).isEqualTo("jm@example.com");
  }

  @Test
  void expandsGroupsAndIgnoresEmptyOnes() {
    MessageHeaders h = parse("To: Undisclosed recipients:;\r\nCc: Team: a@example.com, b@example.com;, c@example.com\r\n\r\n");
    assertThat(h.addressSpecs("To")).isEmpty();
    assertThat(h.addressSpecs("Cc")).containsExactly("a@example.com", "b@example.com", "c@example.com");
  }

  @Test
  void handlesCommentsRoutesQuotedLocalPartsAndDomainLiterals() {
    MessageHeaders h = parse("To: a@example.com (Alice, admin), <@relay.example:b@example.com>,"
        + " \"c d\"@example.com, e@[IPv6:2001:db8::1], Name (x) <f@example.com>\r\n\r\n");
    assertThat(h.addressSpecs("To")).containsExactly(
        "a@example.com", "b@example.com", "\"c d\"@example.com", "e@[IPv6:2001:db8::1]", "f@example.com");
  }

  @Test
  void keepsUtf8InHeaders() {
    MessageHeaders h = parse("To: Jürgen <jürgen@exämple.com>\r\n\r\n");
    assertThat(h.addresses("To")).containsExactly(new MessageHeaders.Address("jürgen@exämple.com", "Jürgen"));
  }

  @Test
  void collectsRepeatedFields() {
    MessageHeaders h = parse("To: a@example.com\nCc: b@example.com\nTo: c@example.com\n\n");
    assertThat(h.addressSpecs("To")).containsExactly("a@example.com", "c@example.com");
  }

  @Test
  void salvagesAddressesFromUnparsableHeaders() {
    MessageHeaders h = parse("To: printer <<scan@example.com>>, broken\"quote <x@example.com>\r\n\r\n");
    assertThat(h.addressSpecs("To")).contains("scan@example.com", "x@example.com");
  }

  @Test
  void readsOnlyTheHeaderBlockFromAStream() throws IOException {
    byte[] msg = "From: a@example.com\r\n\r\nbody".getBytes(StandardCharsets.US_ASCII);
    InputStream in = new ByteArrayInputStream(msg);
    MessageHeaders.read(in);
    assertThat(new String(in.readAllBytes(), StandardCharsets.US_ASCII)).isEqualTo("body");
  }

  @Test
  void boundsTheHeaderBlock() throws IOException {
    StringBuilder sb = new StringBuilder("From: a@example.com\r\n");
    while (sb.length() < MessageHeaders.MAX_HEADER_BYTES + 1000) {
      sb.append("X-Filler: ").append("y".repeat(70)).append("\r\n");
    }
    MessageHeaders h = parse(sb.append("\r\nbody").toString());
    assertThat(h.truncated()).isTrue();
    assertThat(h.fromAddress()).isEqualTo("a@example.com");
  }

  @Test
  void readsAFileWithoutHeaderBodySeparator(@TempDir Path dir) throws IOException {
    Path f = dir.resolve("message.eml");
    Files.writeString(f, "From: a@example.com\nTo: b@example.com");
    MessageHeaders h = MessageHeaders.read(f);
    assertThat(h.addressSpecs("To")).containsExactly("b@example.com");
    assertThat(h.truncated()).isFalse();
  }

  @Test
  void skipsAnMboxFromLine() {
    MessageHeaders h = parse("From a@example.com Mon Jan  1 12:00:00 2026\nFrom: b@example.com\n\n");
    assertThat(h.fromAddress()).isEqualTo("b@example.com");
  }
}
