package io.relay365.receive;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.relay365.config.Settings;
import io.relay365.store.Envelope;
import io.relay365.store.Spool;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Properties of the parsers and of the live listener: for any input, an answer or a close, never a
 * hang, a crash (an exception other than a reply), a session thread left behind, or two messages
 * where one was sent.
 */
class FrontDoorPropertiesTest {
  private static Path dir;
  private static Spool spool;
  private static SmtpListener listener;
  private static final List<Envelope> queued = new CopyOnWriteArrayList<>();

  @BeforeContainer
  static void start() throws IOException {
    dir = Files.createTempDirectory("relay365-props");
    spool = Spool.open(dir);
    listener = new SmtpListener(new Settings.Smtp("127.0.0.1", 0, "relay.test", 1_000_000, 5, 20,
        Duration.ofSeconds(5)).withLimits(Duration.ofMinutes(1), 20, 1000, 1000, Settings.BareLf.NORMALIZE),
        spool, queued::add);
    listener.start();
  }

  @AfterContainer
  static void stop() throws IOException {
    // no session is still being served once the clients have gone (threads carry the Session name while busy)
    await().atMost(10, TimeUnit.SECONDS).until(() -> Thread.getAllStackTraces().keySet().stream()
        .noneMatch(t -> t.getName().startsWith("org.subethamail.smtp.server.Session")));
    listener.close();
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  // --- pure parsers

  @Provide
  Arbitrary<String> argLines() {
    Arbitrary<String> tokens = Arbitraries.of("MAIL", "RCPT", " ", "FROM:", "TO:", "<", ">", "@", "\"", "\\", ".",
        "a", "é", "δ", "xn--", "[", "]", "IPv6:", "::1", "SIZE=", "1", "=", ",", ":", "SMTPUTF8", "NOTIFY=NEVER",
        "\t", "\0", "postmaster", "-", "99999999999999999999");
    return tokens.list().ofMaxSize(30).map(l -> String.join("", l));
  }

  @Property(tries = 1500)
  void argumentParsingEitherSucceedsOrRepliesWithA5xx(@ForAll("argLines") String line) {
    for (String verb : List.of("MAIL ", "RCPT ")) {
      try {
        SmtpArgs.Parsed p = verb.startsWith("M") ? SmtpArgs.mail(verb + line) : SmtpArgs.rcpt(verb + line);
        assertThat(p.address()).doesNotContain("\r", "\n");
      } catch (SmtpReply r) {
        assertThat(r.code).isBetween(500, 599);
        assertThat(r.line()).doesNotContain("\r", "\n");
      }
    }
  }

  @Property(tries = 2000)
  void anyStringIsParsedOrRefusedNeverThrown(@ForAll String line) {
    try {
      SmtpArgs.mail("MAIL FROM:" + line);
      SmtpArgs.rcpt("RCPT TO:" + line);
    } catch (SmtpReply r) {
      assertThat(r.code).isBetween(500, 599);
    }
  }

  @Provide
  Arbitrary<byte[]> bodies() {
    return Arbitraries.of((byte) 'a', (byte) '.', (byte) '\r', (byte) '\n', (byte) 0, (byte) 'M', (byte) 0xe9)
        .list().ofMaxSize(200).map(l -> {
          byte[] b = new byte[l.size()];
          for (int i = 0; i < b.length; i++) {
            b[i] = l.get(i);
          }
          return b;
        });
  }

  @Property(tries = 2000)
  void normalisedContentHasOnlyCrlfLineEnds(@ForAll("bodies") byte[] body) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    LineEndings l = new LineEndings(out);
    l.write(body, 0, body.length);
    l.finish();
    String s = out.toString(ISO_8859_1);
    assertThat(s.replace("\r\n", "")).doesNotContain("\r", "\n");
    if (!l.changed()) {
      assertThat(s).isEqualTo(new String(body, ISO_8859_1));
    }
  }

  // --- the live listener

  /** What a correct client sends: CRLF at the end, a dot doubled at the start of every CRLF line. */
  static byte[] stuffed(byte[] body) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    for (int i = 0; i < body.length; i++) {
      boolean lineStart = i == 0 || (i >= 2 && body[i - 2] == '\r' && body[i - 1] == '\n');
      if (lineStart && body[i] == '.') {
        b.write('.');
      }
      b.write(body[i]);
    }
    if (!new String(body, ISO_8859_1).endsWith("\r\n")) {
      b.writeBytes("\r\n".getBytes(ISO_8859_1));
    }
    b.writeBytes(".\r\n".getBytes(ISO_8859_1));
    return b.toByteArray();
  }

  @Property(tries = 60)
  void oneMessageSentIsOneMessageQueued(@ForAll("bodies") byte[] body) throws IOException {
    int before = queued.size();
    byte[] head = "Message-ID: <p@x>\r\n\r\n".getBytes(ISO_8859_1);
    byte[] content = new byte[head.length + body.length];
    System.arraycopy(head, 0, content, 0, head.length);
    System.arraycopy(body, 0, content, head.length, body.length);
    try (SmtpDialog d = new SmtpDialog(listener.port())) {
      d.expect("220");
      d.send("EHLO client.example").expect("250");
      d.begin("a@example.com", "b@example.com");
      d.raw(stuffed(content));
      d.expect("250 2.0.0 Ok: queued as");
      d.send("NOOP").expect("250 2.0.0 Ok");
    }
    assertThat(queued).hasSize(before + 1);
    String stored = Files.readString(spool.messageFile(queued.get(before).id()), ISO_8859_1);
    String sent = new String(content, ISO_8859_1);
    String expected = sent.endsWith("\r\n") ? sent : sent + "\r\n";
    assertThat(stored.replace("\r\n", "")).doesNotContain("\r", "\n");
    if (!expected.replace("\r\n", "").contains("\r") && !expected.replace("\r\n", "").contains("\n")) {
      assertThat(stored).endsWith(expected);
    }
  }

  @Provide
  Arbitrary<String> commandLines() {
    Arbitrary<String> tokens = Arbitraries.of("MAIL FROM:", "RCPT TO:", "DATA", "BDAT", "RSET", "NOOP", "HELO",
        "EHLO", "AUTH", "AUTH PLAIN", "STARTTLS", "VRFY", "EXPN", "HELP", "GET", "<", ">", "a@b.example", " ",
        "SIZE=9999999999", "\r", "\n", "\0", "é", "x".repeat(300), "=", "<>", "QUIT");
    return tokens.list().ofMaxSize(8).map(l -> String.join("", l));
  }

  @Property(tries = 100)
  void anyCommandLineGetsAnAnswerOrACloseNeverAHang(@ForAll("commandLines") String line) throws IOException {
    int before = queued.size();
    try (SmtpDialog d = new SmtpDialog(listener.port())) {
      d.expect("220");
      d.send("EHLO client.example").expect("250");
      d.raw((line + "\r\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
      String reply;
      try {
        reply = d.expect("");
      } catch (AssertionError closed) {
        return; // the server closed without a reply (e.g. after its 421): allowed
      }
      assertThat(reply).matches("(?s)[2345]\\d\\d[ -].*");
      if (reply.startsWith("354")) {
        d.raw("x\r\n.\r\n".getBytes(ISO_8859_1));
        d.expect("");
      }
      // either the connection was closed, or it is still in step: NOOP gets its own 250
      try {
        d.send("NOOP");
        String next = d.expect("");
        assertThat(next).matches("(?s)(250 2\\.0\\.0 Ok|421 .*|554 5\\.5\\.0 .*)");
      } catch (AssertionError | java.net.SocketException closed) {
        // closed by the server in the meantime
      }
    } catch (SocketTimeoutException hang) {
      throw new AssertionError("no answer within 20 s to " + line, hang);
    }
    assertThat(queued.size() - before).isLessThanOrEqualTo(1);
  }
}
