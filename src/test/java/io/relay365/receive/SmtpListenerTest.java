package io.relay365.receive;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.relay365.config.Settings;
import io.relay365.store.Envelope;
import io.relay365.store.FailingFileOps;
import io.relay365.store.Spool;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

class SmtpListenerTest {
  private static final long MAX = 1_000_000;
  private static final Pattern QUEUED = Pattern.compile("250 2\\.0\\.0 Ok: queued as ([0-9a-z]{16})");
  private static final Pattern RECEIVED = Pattern.compile(
      "Received: from client\\.example \\(127\\.0\\.0\\.1\\)\r\n"
          + "\tby relay\\.test \\(relay365\\) with ESMTP id ([0-9a-z]{16}); [A-Z][a-z]{2}, \\d{1,2} [A-Z][a-z]{2} \\d{4} \\d\\d:\\d\\d:\\d\\d [+-]\\d{4}\r\n");

  @TempDir Path dir;
  private Spool spool;
  private SmtpListener listener;
  private final List<Envelope> queued = new CopyOnWriteArrayList<>();
  private final List<Thread> threads = new CopyOnWriteArrayList<>();
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

  private static Settings.Smtp settings(int maxRecipients) {
    return new Settings.Smtp("127.0.0.1", 0, "relay.test", MAX, maxRecipients, 5, Duration.ofSeconds(30));
  }

  private SmtpListener start(Spool s, Settings.Smtp smtp) throws IOException {
    spool = s;
    listener = new SmtpListener(smtp, s, e -> {
      // the entry must already be durable and visible when the queue runner hears of it
      try {
        assertThat(s.read(e.id())).contains(e);
      } catch (IOException ex) {
        throw new AssertionError(ex);
      }
      threads.add(Thread.currentThread());
      queued.add(e);
    });
    listener.start();
    return listener;
  }

  private SmtpDialog connect() throws IOException {
    SmtpDialog d = new SmtpDialog(listener.port());
    d.expect("220 relay.test");
    return d;
  }

  private SmtpDialog session() throws IOException {
    SmtpDialog d = connect();
    d.send("EHLO client.example").expect("250");
    return d;
  }

  /** Sends a message body (already dot-stuffed, with the final dot) and returns the queue id of the 250. */
  private static String deliver(SmtpDialog d, String data) throws IOException {
    d.raw(data.getBytes(ISO_8859_1));
    String reply = d.expect("250");
    Matcher m = QUEUED.matcher(reply);
    assertThat(m.matches()).as("reply %s", reply).isTrue();
    return m.group(1);
  }

  private String stored(String id) throws IOException {
    return Files.readString(spool.messageFile(id), ISO_8859_1);
  }

  /** The stored message without the relay's Received field (checks that field on the way). */
  private String withoutReceived(String id) throws IOException {
    String s = stored(id);
    Matcher m = RECEIVED.matcher(s);
    assertThat(m.lookingAt()).as("stored message starts with our Received field:\n%s", s).isTrue();
    assertThat(m.group(1)).isEqualTo(id);
    return s.substring(m.end());
  }

  /** Committed entries ("queue"), or entries being received into new directories ("receiving"). */
  private List<Path> entries(String which) throws IOException {
    try (Stream<Path> s = Files.list(dir.resolve("queue"))) {
      return s.filter(p -> {
        String name = p.getFileName().toString();
        return which.equals("receiving") ? name.startsWith(".new-") : !name.startsWith(".");
      }).toList();
    }
  }

  @Test
  void ehloAdvertisesSizeAndNamesTheRelay() throws IOException {
    start(Spool.open(dir), settings(100));
    try (SmtpDialog d = connect()) {
      String ehlo = d.send("EHLO client.example").expect("250");
      assertThat(ehlo).startsWith("250-relay.test").contains("250-SIZE 1000000");
      d.send("NOOP").expect("250");
      d.send("QUIT").expect("221");
    }
  }

  @Test
  void acceptedMessageIsQueuedLoggedAndRepliedWithItsId() throws IOException {
    start(Spool.open(dir), settings(100));
    String id;
    try (SmtpDialog d = session()) {
      d.begin("dev@example.com", "a@example.com", "b@example.com");
      id = deliver(d, "Subject: hi\r\nMessage-ID: <m1@dev>\r\n\r\nhello\r\n.\r\n");
      d.send("QUIT").expect("221");
    }
    Envelope e = queued.get(0);
    assertThat(queued).hasSize(1);
    assertThat(e.id()).isEqualTo(id);
    assertThat(e.sender()).isEqualTo("dev@example.com");
    assertThat(e.recipients()).containsExactly("a@example.com", "b@example.com");
    assertThat(e.client()).isEqualTo("127.0.0.1");
    assertThat(e.helo()).isEqualTo("client.example");
    assertThat(e.size()).isEqualTo(Files.size(spool.messageFile(id)));
    assertThat(withoutReceived(id)).isEqualTo("Subject: hi\r\nMessage-ID: <m1@dev>\r\n\r\nhello\r\n");
    // Sessions run on our named pool; subethasmtp renames the thread to "...Session-/ip:port" while it
    // serves a client and gives the name back afterwards.
    assertThat(threads).hasSize(1);
    await().atMost(5, TimeUnit.SECONDS).until(() -> threads.get(0).getName().equals("smtp-session-1"));
    assertThat(mailLog.list).extracting(ILoggingEvent::getFormattedMessage).containsExactly(
        "accepted id=" + id + " from=dev@example.com rcpt=a@example.com,b@example.com client=127.0.0.1 size=" + e.size());
  }

  @Test
  void nullSenderIsAcceptedAndStoredAsEmpty() throws IOException {
    start(Spool.open(dir), settings(100));
    try (SmtpDialog d = session()) {
      d.send("MAIL FROM:<>").expect("250");
      d.send("RCPT TO:<a@example.com>").expect("250");
      d.send("DATA").expect("354");
      deliver(d, "Subject: bounce\r\n\r\nx\r\n.\r\n");
    }
    assertThat(queued).hasSize(1);
    assertThat(queued.get(0).sender()).isEmpty();
    assertThat(queued.get(0).nullSender()).isTrue();
    assertThat(mailLog.list.get(0).getFormattedMessage()).contains(" from=<> ");
  }

  @Test
  void declaredSizeOverTheLimitIsRefusedAtMail() throws IOException {
    start(Spool.open(dir), settings(100));
    try (SmtpDialog d = session()) {
      assertThat(d.send("MAIL FROM:<a@example.com> SIZE=" + (MAX + 1)).expect("552"))
          .isEqualTo("552 5.3.4 Message size exceeds fixed limit");
      d.send("MAIL FROM:<a@example.com> SIZE=" + MAX).expect("250");
    }
  }

  @Test
  void oversizeDataIsDrainedThenRefusedAndTheSessionStaysInStep() throws IOException {
    start(Spool.open(dir), settings(100));
    try (SmtpDialog d = session()) {
      d.begin("a@example.com", "a@example.com");
      StringBuilder data = new StringBuilder("Subject: big\r\n\r\n");
      String line = "x".repeat(98) + "\r\n";
      while (data.length() <= MAX) {
        data.append(line);
      }
      // If the tail past the limit were read as commands, these would each produce a reply (and a message).
      data.append("RSET\r\nMAIL FROM:<smuggled@example.com>\r\nRCPT TO:<victim@example.com>\r\nHELP\r\nQUIT\r\n");
      data.append(".\r\n");
      d.raw(data.toString().getBytes(ISO_8859_1));
      assertThat(d.expect("552")).isEqualTo("552 5.3.4 Message size exceeds fixed maximum message size");
      // The very next reply answers our NOOP: nothing of the tail ran as a command.
      assertThat(d.send("NOOP").expect("250")).isEqualTo("250 2.0.0 Ok");
      // No RSET: the transaction was cleared by the end of DATA (RFC 5321 4.1.1.4), works around the
      // library's "503 Sender already specified".
      d.begin("a@example.com", "a@example.com");
      String id = deliver(d, "Subject: small\r\n\r\nok\r\n.\r\n");
      assertThat(queued).extracting(Envelope::id).containsExactly(id);
    }
    assertThat(entries("queue")).hasSize(1);
    await().atMost(5, TimeUnit.SECONDS).until(() -> entries("receiving").isEmpty());
  }

  @Test
  void messageOfExactlyTheLimitIsAccepted() throws IOException {
    start(Spool.open(dir), settings(100));
    try (SmtpDialog d = session()) {
      d.begin("a@example.com", "a@example.com");
      String head = "Subject: limit\r\nMessage-ID: <l@x>\r\n\r\n";
      String body = "y".repeat((int) MAX - head.length() - 2) + "\r\n";
      String id = deliver(d, head + body + ".\r\n");
      assertThat(withoutReceived(id)).hasSize((int) MAX);
    }
  }

  @Test
  void dotStuffingIsUndoneExactlyOnce() throws IOException {
    start(Spool.open(dir), settings(100));
    try (SmtpDialog d = session()) {
      d.begin("a@example.com", "a@example.com");
      String id = deliver(d, "Message-ID: <d@x>\r\n\r\n..one\r\n...two\r\n..\r\nx.y\r\n.. \r\n.\r\n");
      assertThat(withoutReceived(id)).isEqualTo("Message-ID: <d@x>\r\n\r\n.one\r\n..two\r\n.\r\nx.y\r\n. \r\n");
    }
  }

  @Test
  void bareLineFeedsAreNormalisedUnstuffedAndNeverEndTheData() throws IOException {
    // smtp.bare-lf: normalize (the default). "\n.\n" does not end the data (only CRLF.CRLF does); each
    // bare LF becomes CRLF and the line after it is dot-unstuffed like any other line, so "\n..dot"
    // is ".dot" and the lone "." line is an empty line (LineEndings).
    start(Spool.open(dir), settings(100));
    try (SmtpDialog d = session()) {
      d.begin("a@example.com", "a@example.com");
      String id = deliver(d, "Message-ID: <d@x>\n\nline\n..dot\n.\nMAIL FROM:<s@x>\r\n.\r\n");
      assertThat(withoutReceived(id)).isEqualTo("Message-ID: <d@x>\r\n\r\nline\r\n.dot\r\n\r\nMAIL FROM:<s@x>\r\n");
    }
    assertThat(queued).hasSize(1);
    assertThat(mailLog.list).extracting(ILoggingEvent::getFormattedMessage)
        .contains("bare-line-ends client=127.0.0.1 from=a@example.com bare-lf=5 bare-cr=0 action=normalized");
  }

  @Test
  void messageIdIsAddedOnlyWhenMissingAndTheRestIsByteIdentical() throws IOException {
    start(Spool.open(dir), settings(100));
    String original = "From: dev@example.com\r\nSubject: no id\r\n\r\nbody\r\nMessage-ID: <in-body@x>\r\n";
    String withId = "From: dev@example.com\r\nmessage-id: <kept@dev>\r\n\r\nbody\r\n CRLF kept\r\n";
    String headersOnly = "From: dev@example.com\r\nSubject: no body\r\n";
    String added;
    String kept;
    String bare;
    try (SmtpDialog d = session()) {
      d.begin("a@example.com", "a@example.com");
      added = deliver(d, original + ".\r\n");
      d.begin("a@example.com", "a@example.com");
      kept = deliver(d, withId + ".\r\n");
      d.begin("a@example.com", "a@example.com");
      bare = deliver(d, headersOnly + ".\r\n");
    }
    String messageId = "Message-ID: <" + added + "\\.[0-9a-z]+@relay\\.test>\r\n";
    assertThat(withoutReceived(added)).matches(Pattern.quote("From: dev@example.com\r\nSubject: no id\r\n")
        + messageId + Pattern.quote("\r\nbody\r\nMessage-ID: <in-body@x>\r\n"));
    assertThat(withoutReceived(kept)).isEqualTo(withId);
    assertThat(withoutReceived(bare)).matches(Pattern.quote(headersOnly) + messageId.replace(added, bare));
  }

  @Test
  void heloCannotInjectIntoTheReceivedField() throws IOException {
    start(Spool.open(dir), settings(100));
    try (SmtpDialog d = connect()) {
      d.send("EHLO bad(name);X-Evil:1\\<x>").expect("250");
      d.begin("a@example.com", "a@example.com");
      String id = deliver(d, "Message-ID: <h@x>\r\n\r\nb\r\n.\r\n");
      assertThat(stored(id)).startsWith("Received: from bad_name__X-Evil:1__x_ (127.0.0.1)\r\n\tby relay.test");
    }
  }

  @Test
  void tooManyRecipientsAreRefused() throws IOException {
    start(Spool.open(dir), settings(2));
    try (SmtpDialog d = session()) {
      d.send("MAIL FROM:<a@example.com>").expect("250");
      d.send("RCPT TO:<1@example.com>").expect("250");
      d.send("RCPT TO:<2@example.com>").expect("250");
      assertThat(d.send("RCPT TO:<3@example.com>").expect("452")).isEqualTo("452 4.5.3 Too many recipients");
      d.send("DATA").expect("354"); // the two accepted recipients still get the message
      deliver(d, "Subject: two\r\n\r\nx\r\n.\r\n");
    }
  }

  @Test
  void connectionsAboveTheLimitAreTurnedAway() throws IOException {
    start(Spool.open(dir), new Settings.Smtp("127.0.0.1", 0, "relay.test", MAX, 100, 1, Duration.ofSeconds(30)));
    try (SmtpDialog first = session(); SmtpDialog second = new SmtpDialog(listener.port())) {
      assertThat(second.expect("421")).contains("Too many connections");
      first.send("NOOP").expect("250");
    }
  }

  @Test
  void failedCommitGives451LeavesNothingAndTheSessionGoesOn() throws IOException {
    FailingFileOps ops = new FailingFileOps();
    start(ops.open(dir), settings(100));
    try (SmtpDialog d = session()) {
      for (String step : List.of("create", "write", "force", "forceDir", "move")) {
        ops.failOn(step);
        d.begin("a@example.com", "a@example.com");
        d.raw(("Subject: " + step + "\r\n\r\nbody\r\nMAIL FROM:<tail@example.com>\r\n.\r\n").getBytes(ISO_8859_1));
        assertThat(d.expect("451")).as(step).isEqualTo("451 4.3.0 Failed to queue message, try again later");
        assertThat(entries("queue")).as(step).isEmpty();
        assertThat(entries("receiving")).as(step).isEmpty();
      }
      ops.failOn(null);
      d.begin("a@example.com", "a@example.com");
      deliver(d, "Subject: fine\r\n\r\nbody\r\n.\r\n");
    }
    assertThat(queued).hasSize(1);
    assertThat(spool.size()).isEqualTo(1);
  }

  @Test
  void messageIsStreamedToDiskNotHeldInMemory() throws IOException {
    start(Spool.open(dir), new Settings.Smtp("127.0.0.1", 0, "relay.test", 35L * 1024 * 1024, 100, 5,
        Duration.ofSeconds(30)));
    try (SmtpDialog d = session()) {
      d.begin("a@example.com", "a@example.com");
      byte[] line = ("z".repeat(1022) + "\r\n").getBytes(ISO_8859_1);
      d.raw("Subject: 20 MB\r\n\r\n".getBytes(ISO_8859_1));
      for (int i = 0; i < 20 * 1024; i++) {
        d.raw(line);
      }
      // before the final dot, nearly all 20 MB are already in the temp file
      await().atMost(10, TimeUnit.SECONDS).until(() -> tempBytes() >= 19L * 1024 * 1024);
      String id = deliver(d, ".\r\n");
      assertThat(Files.size(spool.messageFile(id))).isGreaterThan(20L * 1024 * 1024);
    }
  }

  private long tempBytes() throws IOException {
    long total = 0;
    for (Path entry : entries("receiving")) {
      Path m = entry.resolve("message.eml");
      if (Files.exists(m)) {
        total += Files.size(m);
      }
    }
    return total;
  }

  @Test
  void closeEndsSessionsMidDataAndDropsTheirTempEntries() throws IOException {
    start(Spool.open(dir), settings(100));
    try (SmtpDialog d = session()) {
      d.begin("a@example.com", "a@example.com");
      d.raw("Subject: cut\r\n\r\npartial".getBytes(ISO_8859_1));
      await().atMost(5, TimeUnit.SECONDS).until(() -> !entries("receiving").isEmpty());
      long t0 = System.nanoTime();
      listener.close();
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(SmtpListener.STOP_TIMEOUT);
      await().atMost(5, TimeUnit.SECONDS).until(() -> entries("receiving").isEmpty());
      assertThat(entries("queue")).isEmpty();
    }
  }

  @Test
  void committedEntriesAreListedAfterARestart() throws IOException {
    start(Spool.open(dir), settings(100));
    String id;
    try (SmtpDialog d = session()) {
      d.begin("a@example.com", "a@example.com");
      id = deliver(d, "Subject: persist\r\n\r\nb\r\n.\r\n");
    }
    listener.close();
    listener = null;
    assertThat(Spool.open(dir).queued()).extracting(Envelope::id).containsExactly(id);
  }

  @Test
  void jakartaMailClientCanSend() throws Exception {
    start(Spool.open(dir), settings(100));
    Properties p = new Properties();
    p.put("mail.smtp.host", "127.0.0.1");
    p.put("mail.smtp.port", String.valueOf(listener.port()));
    p.put("mail.smtp.localhost", "client.example");
    Session session = Session.getInstance(p);
    MimeMessage m = new MimeMessage(session);
    m.setFrom(new InternetAddress("dev@example.com"));
    m.setRecipients(Message.RecipientType.TO, "a@example.com");
    m.setSubject("from Jakarta Mail");
    m.setText("line one\n.line with a leading dot\n", "UTF-8");
    Transport.send(m);

    assertThat(queued).hasSize(1);
    String id = queued.get(0).id();
    MimeMessage stored;
    try (var in = Files.newInputStream(spool.messageFile(id))) {
      stored = new MimeMessage(session, in);
    }
    assertThat(stored.getSubject()).isEqualTo("from Jakarta Mail");
    assertThat(stored.getHeader("Received")[0]).contains("id " + id);
    assertThat(stored.getMessageID()).isEqualTo(m.getMessageID()); // the client's own id is kept
    assertThat(((String) stored.getContent()).replace("\r\n", "\n")).isEqualTo("line one\n.line with a leading dot\n");
  }

  @Test
  void pythonSmtplibCanSend() throws Exception {
    Assumptions.assumeTrue(python3Available(), "python3 not available");
    start(Spool.open(dir), settings(100));
    String script = String.join("\n",
        "import smtplib, sys",
        "from email.message import EmailMessage",
        "m = EmailMessage()",
        "m['From'] = 'py@example.com'",
        "m['To'] = 'a@example.com'",
        "m['Subject'] = 'from smtplib'",
        "m.set_content('hello from python\\n.dot line\\n')",
        "with smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='client.example', timeout=20) as s:",
        "    s.ehlo()",
        "    assert s.has_extn('size'), 'SIZE not advertised'",
        "    code, msg = s.mail('', ['size=%d' % len(m.as_bytes())])",
        "    assert code == 250, (code, msg)",
        "    s.rcpt('a@example.com')",
        "    code, msg = s.data(m.as_bytes(policy=m.policy.clone(linesep='\\r\\n')))",
        "    print(code, msg.decode())",
        "");
    Path py = Files.writeString(dir.resolve("send.py"), script);
    Process proc = new ProcessBuilder("python3", py.toString(), String.valueOf(listener.port()))
        .redirectErrorStream(true).start();
    assertThat(proc.waitFor(30, TimeUnit.SECONDS)).isTrue();
    String out = new String(proc.getInputStream().readAllBytes(), UTF_8);
    assertThat(proc.exitValue()).as(out).isZero();
    assertThat(queued).hasSize(1);
    assertThat(out.trim()).isEqualTo("250 2.0.0 Ok: queued as " + queued.get(0).id());
    assertThat(queued.get(0).sender()).isEmpty();
    assertThat(stored(queued.get(0).id())).contains("Subject: from smtplib\r\n", "\r\n.dot line\r\n");
  }

  private static boolean python3Available() {
    try {
      Process p = new ProcessBuilder("python3", "--version").redirectErrorStream(true).start();
      return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException | InterruptedException e) {
      return false;
    }
  }
}
