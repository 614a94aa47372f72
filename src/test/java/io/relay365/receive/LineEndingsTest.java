package io.relay365.receive;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** LineEndings as a table (chasquid's dotreader_test style): input after the library's unstuffing -> stored. */
class LineEndingsTest {
  static String run(String in, boolean byteByByte) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    LineEndings l = new LineEndings(out);
    byte[] b = in.getBytes(ISO_8859_1);
    if (byteByByte) {
      for (byte x : b) {
        l.write(x);
      }
    } else {
      l.write(b, 0, b.length);
    }
    l.finish();
    return out.toString(ISO_8859_1);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
      "plain CRLF is untouched        | a\\r\\nb\\r\\n       | a\\r\\nb\\r\\n",
      "bare LF                        | a\\nb\\n           | a\\r\\nb\\r\\n",
      "bare CR                        | a\\rb             | a\\r\\nb",
      "CR CR LF                       | a\\r\\r\\nb         | a\\r\\n\\r\\nb",
      "trailing bare CR               | a\\r              | a\\r\\n",
      "stuffed dot after bare LF      | a\\n..x           | a\\r\\n.x",
      "lone dot after bare LF         | a\\n.\\nb          | a\\r\\n\\r\\nb",
      "dot after CRLF left alone      | a\\r\\n.x          | a\\r\\n.x",
      "dot after bare CR unstuffed    | a\\r..x           | a\\r\\n.x",
      "dot mid-line kept              | a.b\\n            | a.b\\r\\n",
      "LF CR                          | a\\n\\rb           | a\\r\\n\\r\\nb",
  })
  void normalises(String name, String in, String expected) throws IOException {
    String i = unescape(in.strip());
    String e = unescape(expected.strip());
    assertThat(run(i, false)).isEqualTo(e);
    assertThat(run(i, true)).isEqualTo(e);
  }

  static String unescape(String s) {
    return s.replace("\\r", "\r").replace("\\n", "\n");
  }
}
