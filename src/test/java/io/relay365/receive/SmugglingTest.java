package io.relay365.receive;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.relay365.config.Settings;
import io.relay365.config.Settings.BareLf;
import io.relay365.store.Envelope;
import io.relay365.store.Spool;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;

/**
 * The published SMTP smuggling vectors (SEC Consult, Dec 2023; models.md): each is sent as a would-be
 * end of data followed by a second transaction, then the real CRLF.CRLF. Whatever the vector, exactly
 * one reply follows, the session stays in step, at most one message is queued and the smuggled MAIL
 * FROM never runs: in normalize mode it is content, in reject mode the message is refused (550 5.5.2).
 */
class SmugglingTest {
  private static final String SMUGGLED = "MAIL FROM:<ceo@example.com>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\n"
      + "From: ceo@example.com\r\n\r\npay now\r\n";

  @TempDir Path dir;
  private SmtpListener listener;
  private Spool spool;
  private final List<Envelope> queued = new CopyOnWriteArrayList<>();
  private final ListAppender<ILoggingEvent> mailLog = new ListAppender<>();

  @BeforeEach
  void mailLog() {
    mailLog.start();
    ((Logger) LoggerFactory.getLogger("relay365.mail")).addAppender(mailLog);
  }

  @AfterEach
  void stop() {
    ((Logger) LoggerFactory.getLogger("relay365.mail")).detachAppender(mailLog);
    if (listener != null) {
      listener.close();
    }
  }

  private void start(BareLf mode) throws IOException {
    spool = Spool.open(dir);
    Settings.Smtp smtp = new Settings.Smtp("127.0.0.1", 0, "relay.test", 1_000_000, 5, 5, Duration.ofSeconds(30))
        .withLimits(Duration.ofMinutes(1), 5, 10, 1000, mode);
    listener = new SmtpListener(smtp, spool, queued::add);
    listener.start();
  }

  /** Java escapes of the vectors: \n.\n, \n.\r, \r.\n, \r.\r, \n.\r\n, \r.\r\n, \r\n\0.\r\n, \r\n.\r\r\n, \r\r\n.\r\r\n */
  static final String[] VECTORS = {"\n.\n", "\n.\r", "\r.\n", "\r.\r", "\n.\r\n", "\r.\r\n", "\r\n\0.\r\n",
      "\r\n.\r\r\n", "\r\r\n.\r\r\n"};

  private String send(String vector) throws IOException {
    try (SmtpDialog d = new SmtpDialog(listener.port())) {
      d.expect("220");
      d.send("EHLO client.example").expect("250");
      d.begin("printer@example.com", "a@example.com");
      d.raw(("Subject: vector\r\n\r\nfirst" + vector + SMUGGLED + "\r\n.\r\n").getBytes(ISO_8859_1));
      String reply = d.expect(""); // exactly one reply to the data...
      assertThat(d.send("NOOP").expect("250")).isEqualTo("250 2.0.0 Ok"); // ...and the next one answers NOOP
      return reply;
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 1, 2, 3, 4, 5, 6, 7, 8})
  void normalizeKeepsEveryVectorAsContent(int i) throws IOException {
    start(BareLf.NORMALIZE);
    String reply = send(VECTORS[i]);
    assertThat(reply).startsWith("250 2.0.0 Ok: queued as");
    assertThat(queued).hasSize(1);
    assertThat(queued.get(0).sender()).isEqualTo("printer@example.com");
    assertThat(queued.get(0).recipients()).containsExactly("a@example.com");
    String stored = Files.readString(spool.messageFile(queued.get(0).id()), ISO_8859_1);
    assertThat(stored).contains("MAIL FROM:<ceo@example.com>\r\nRCPT TO:<victim@example.com>\r\n");
    // no bare CR or LF is left in what will be delivered
    assertThat(stored.replace("\r\n", "")).doesNotContain("\r").doesNotContain("\n");
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 1, 2, 3, 4, 5, 6, 7, 8})
  void rejectRefusesEveryVectorWithABareLineEnd(int i) throws IOException {
    start(BareLf.REJECT);
    String reply = send(VECTORS[i]);
    if (VECTORS[i].equals("\r\n\0.\r\n")) { // no bare line end: a NUL is content
      assertThat(reply).startsWith("250 ");
      assertThat(queued).hasSize(1);
      return;
    }
    assertThat(reply).isEqualTo("550 " + SpoolingHandler.BARE_LINE_END);
    assertThat(queued).isEmpty();
    assertThat(mailLog.list).extracting(ILoggingEvent::getFormattedMessage)
        .anyMatch(l -> l.startsWith("bare-line-ends client=127.0.0.1 from=printer@example.com") && l.endsWith("action=rejected"));
  }
}
