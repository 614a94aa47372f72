package io.relay365.receive;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MessageIdInserterTest {
  private static final String FIELD = "Message-ID: <q.r@h>\r\n";

  /** '|' stands for CRLF, '~' for a bare LF, '^' for a bare CR; '+' marks where the field must appear. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = ';', value = {
      "plain message;                 Subject: a|From: b||body|;             Subject: a|From: b|+|body|",
      "existing Message-ID kept;      Subject: a|Message-ID: <x@y>||body|;  Subject: a|Message-ID: <x@y>||body|",
      "name is case-insensitive;      message-id: <x@y>||b|;                message-id: <x@y>||b|",
      "upper case;                    MESSAGE-ID:<x@y>||b|;                 MESSAGE-ID:<x@y>||b|",
      "obsolete space before colon;   Message-ID : <x@y>||b|;               Message-ID : <x@y>||b|",
      "longer name is another field;  Message-IDs: x||b|;                   Message-IDs: x|+|b|",
      "Resent-Message-ID is not it;   Resent-Message-ID: <x@y>||b|;         Resent-Message-ID: <x@y>|+|b|",
      "folded value mentioning it;    Subject: a| Message-ID: x||b|;        Subject: a| Message-ID: x|+|b|",
      "only the top-level block;      Subject: a||Message-ID: <x@y>||b|;    Subject: a|+|Message-ID: <x@y>||b|",
      "no body: appended;             Subject: a|;                          Subject: a|+",
      "no body, unterminated;         Subject: a;                           Subject: a|+",
      "empty message;                 '';                                   +",
      "bare LF blank line;            Subject: a~~body~;                    Subject: a~+~body~",
      "bare CR is not a blank line;   Subject: a|^x||b|;                    Subject: a|^x|+|b|",
      "dots and long body untouched;  S: a||.x|..y|;                        S: a|+|.x|..y|",
  })
  void insertsOnlyWhenMissing(String name, String input, String expected) throws IOException {
    byte[] in = decode(input);
    String want = new String(decode(expected), ISO_8859_1).replace("+", FIELD);
    // byte by byte and in one chunk must give the same result
    assertThat(run(in, 1)).isEqualTo(want);
    assertThat(run(in, in.length + 1)).isEqualTo(want);
    assertThat(run(in, 3)).isEqualTo(want);
  }

  private static String run(byte[] in, int chunk) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    MessageIdInserter m = new MessageIdInserter(out, FIELD.getBytes(ISO_8859_1));
    for (int i = 0; i < in.length; i += chunk) {
      m.write(in, i, Math.min(chunk, in.length - i));
    }
    m.finish();
    return out.toString(ISO_8859_1);
  }

  private static byte[] decode(String s) {
    return s.replace("|", "\r\n").replace("~", "\n").replace("^", "\r").getBytes(ISO_8859_1);
  }
}
