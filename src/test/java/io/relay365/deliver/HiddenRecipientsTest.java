package io.relay365.deliver;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class HiddenRecipientsTest {

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static String strip(String s) {
    return new String(HiddenRecipients.stripBcc(b(s)), StandardCharsets.UTF_8);
  }

  @Test
  void envelopeOnlyRecipientsBecomeBcc() {
    MessageHeaders h = MessageHeaders.parse(b("To: A <A@Example.com>\r\nCc: c@example.com\r\n\r\n"));
    List<String> hidden = HiddenRecipients.of(
        List.of("a@example.com", "hidden@example.com", "C@EXAMPLE.COM", "Hidden@example.com", "z@example.com"), h);
    assertThat(hidden).containsExactly("hidden@example.com", "z@example.com");
  }

  @Test
  void undisclosedRecipientsMeansEveryoneIsBcc() {
    MessageHeaders h = MessageHeaders.parse(b("To: Undisclosed recipients:;\r\n\r\n"));
    assertThat(HiddenRecipients.of(List.of("a@example.com", "b@example.com"), h))
        .containsExactly("a@example.com", "b@example.com");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', quoteCharacter = '\'', textBlock = """
      simple CRLF       | 'From: a\\r\\nBcc: x@y\\r\\nTo: b\\r\\n\\r\\nbody\\r\\n'            | 'From: a\\r\\nTo: b\\r\\n\\r\\nbody\\r\\n'
      bare LF           | 'From: a\\nBcc: x@y\\nTo: b\\n\\nbody\\n'                          | 'From: a\\nTo: b\\n\\nbody\\n'
      folded            | 'From: a\\r\\nBcc: x@y,\\r\\n y@z,\\r\\n\\tw@v\\r\\nTo: b\\r\\n\\r\\nb' | 'From: a\\r\\nTo: b\\r\\n\\r\\nb'
      upper case        | 'BCC: x@y\\r\\nTo: b\\r\\n\\r\\nb'                                  | 'To: b\\r\\n\\r\\nb'
      space before colon| 'bcc : x@y\\r\\nTo: b\\r\\n\\r\\nb'                                 | 'To: b\\r\\n\\r\\nb'
      last header       | 'To: b\\r\\nBcc: x@y\\r\\n\\r\\nbody'                               | 'To: b\\r\\n\\r\\nbody'
      empty value       | 'To: b\\r\\nBcc:\\r\\n\\r\\nbody'                                   | 'To: b\\r\\n\\r\\nbody'
      several           | 'Bcc: x\\r\\nTo: b\\r\\nBcc: y\\r\\n\\r\\nbody'                      | 'To: b\\r\\n\\r\\nbody'
      no separator      | 'To: b\\r\\nBcc: x@y'                                               | 'To: b\\r\\n'
      no separator, LF  | 'Bcc: x@y\\nTo: b'                                                  | 'To: b'
      body untouched    | 'To: b\\r\\n\\r\\nBcc: in body\\r\\n'                                | 'To: b\\r\\n\\r\\nBcc: in body\\r\\n'
      part headers kept | 'Bcc: x\\r\\nContent-Type: multipart/mixed; boundary=q\\r\\n\\r\\n--q\\r\\nBcc: part\\r\\n\\r\\nx\\r\\n--q--\\r\\n' | 'Content-Type: multipart/mixed; boundary=q\\r\\n\\r\\n--q\\r\\nBcc: part\\r\\n\\r\\nx\\r\\n--q--\\r\\n'
      resent-bcc        | 'Resent-Bcc: x@y\\r\\nRESENT-BCC : z\\r\\nResent-To: b\\r\\n\\r\\nbody' | 'Resent-To: b\\r\\n\\r\\nbody'
      similar names kept| 'Bccx: 1\\r\\nX-Bcc: 2\\r\\nBc: 3\\r\\nResent-Bc: 4\\r\\n\\r\\n'   | 'Bccx: 1\\r\\nX-Bcc: 2\\r\\nBc: 3\\r\\nResent-Bc: 4\\r\\n\\r\\n'
      folded neighbour  | 'Subject: a\\r\\n b\\r\\nBcc: x\\r\\n y\\r\\nTo: c\\r\\n  d\\r\\n\\r\\n'  | 'Subject: a\\r\\n b\\r\\nTo: c\\r\\n  d\\r\\n\\r\\n'
      """)
  void stripsOnlyTopLevelBcc(String name, String in, String expected) {
    assertThat(strip(unescape(in))).isEqualTo(unescape(expected));
  }

  @Test
  void returnsTheSameArrayWhenThereIsNoBcc() {
    byte[] mime = b("To: b\r\n\r\nbody");
    assertThat(HiddenRecipients.stripBcc(mime)).isSameAs(mime);
  }

  @Test
  void keepsEightBitBytesExactly() {
    byte[] mime = {'B', 'c', 'c', ':', ' ', 'x', '\n', 'S', ':', ' ', (byte) 0xE9, (byte) 0xFF, '\n', '\n',
        (byte) 0x80, 0, (byte) 0xFE};
    assertThat(HiddenRecipients.stripBcc(mime))
        .containsExactly('S', ':', ' ', (byte) 0xE9, (byte) 0xFF, '\n', '\n', (byte) 0x80, 0, (byte) 0xFE);
  }

  private static String unescape(String s) {
    return s.replace("\\r", "\r").replace("\\n", "\n").replace("\\t", "\t");
  }
}
