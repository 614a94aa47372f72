package io.relay365.deliver;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * What goes into DATA is exactly what EWS gets (MimeHygiene after Bcc removal), whether it is streamed from
 * the spool file or, when it needs repair, cleaned in memory.
 */
class OutgoingMimeTest {
  @TempDir
  Path dir;

  final MimeHygiene hygiene = new MimeHygiene(Charset.forName("windows-1252"));

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "clean                 | false | From: a@x\\r\\nTo: b@x\\r\\nSubject: s\\r\\n\\r\\nbody\\r\\n",
      "Bcc folded            | false | From: a@x\\r\\nBcc: h@x,\\r\\n i@x\\r\\nTo: b@x\\r\\n\\r\\nbody\\r\\nBcc: not a header\\r\\n",
      "Resent-Bcc            | false | Resent-Bcc: h@x\\r\\nFrom: a@x\\r\\n\\r\\nbody\\r\\n",
      "8-bit body            | false | From: a@x\\r\\n\\r\\nGrüße\\r\\n",
      "no blank line         | false | From: a@x\\r\\nSubject: s\\r\\n",
      "no header at all      | false | \\r\\nbody only\\r\\n",
      "no final CRLF         | false | From: a@x\\r\\n\\r\\nbody",
      "bare LF               | true  | From: a@x\\nTo: b@x\\n\\nbody\\n",
      "bare CR               | true  | From: a@x\\r\\n\\r\\nbo\\rdy\\r\\n",
      "final bare CR         | true  | From: a@x\\r\\n\\r\\nbody\\r",
      "8-bit header          | true  | From: a@x\\r\\nSubject: Grüße\\r\\n\\r\\nbody\\r\\n",
      "8-bit header in Bcc   | true  | From: a@x\\r\\nBcc: Jürgen <j@x>\\r\\n\\r\\nbody\\r\\n"})
  void sendsWhatEwsWouldGet(String name, boolean inMemory, String text) throws Exception {
    byte[] original = text.replace("\\r", "\r").replace("\\n", "\n").getBytes(StandardCharsets.UTF_8);
    check(original, inMemory);
  }

  @ParameterizedTest(name = "line of {0} octets")
  @CsvSource({"998, false", "999, true"})
  void longLinesAreReencodedAsMimeHygieneDoes(int length, boolean inMemory) throws Exception {
    // Date, Message-ID and MIME-Version given: Jakarta Mail would add its own when it re-encodes
    byte[] original = ("From: a@x\r\nDate: Thu, 1 Oct 2026 10:00:00 +0000\r\nMessage-ID: <l@x>\r\n"
        + "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n" + "y".repeat(length) + "\r\n")
        .getBytes(StandardCharsets.US_ASCII);
    check(original, inMemory);
  }

  private void check(byte[] original, boolean inMemory) throws Exception {
    Path file = Files.write(dir.resolve("m" + System.nanoTime() + ".eml"), original);
    OutgoingMime m = OutgoingMime.prepare(file, hygiene);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    m.writeTo(out);
    byte[] expected = hygiene.clean(HiddenRecipients.stripBcc(original));
    assertThat(new String(out.toByteArray(), StandardCharsets.UTF_8))
        .isEqualTo(new String(expected, StandardCharsets.UTF_8));
    assertThat(m.size()).isEqualTo(expected.length);
    assertThat(m.inMemory()).isEqualTo(inMemory);
    assertThat(m.eightBit()).isEqualTo(new String(original, StandardCharsets.ISO_8859_1).chars().anyMatch(c -> c > 127));
  }
}
