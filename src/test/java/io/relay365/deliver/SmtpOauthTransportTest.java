package io.relay365.deliver;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.relay365.config.Settings;
import io.relay365.config.SettingsLoader;
import io.relay365.deliver.Outcome.Kind;
import io.relay365.deliver.Outcome.Scope;
import io.relay365.sandbox.ReceivedMessage;
import io.relay365.sandbox.Sandbox;
import io.relay365.sandbox.SandboxOptions;
import io.relay365.sandbox.SmtpFaults;
import io.relay365.MailEvents;
import io.relay365.store.Envelope;
import io.relay365.store.Incoming;
import io.relay365.store.Spool;
import io.vertx.core.Vertx;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The SMTP submission transport against the sandbox over real sockets and a real STARTTLS, with real
 * tokens from the sandbox's Entra endpoint (msal4j): what Exchange gets, and how each answer is classified.
 */
class SmtpOauthTransportTest {
  static final String BOX = "scanner@contoso.example";

  @TempDir
  static Path dir;
  static Vertx vertx;
  static Sandbox sandbox;
  static Settings settings;

  MsalTokenSource source;
  TokenCache tokens;
  SmtpOauthTransport transport;
  final ListAppender<ILoggingEvent> logs = new ListAppender<>();

  @BeforeAll
  static void startSandbox() throws Exception {
    vertx = Vertx.vertx();
    sandbox = Sandbox.start(vertx, new SandboxOptions().dataDir(dir.resolve("sandbox"))).await(60, TimeUnit.SECONDS);
    Map<String, String> env = new HashMap<>();
    env.put("RELAY365_DELIVERY_TRANSPORT", "smtp-oauth");
    env.put("RELAY365_SPOOL_DIR", dir.resolve("spool").toString());
    settings = SettingsLoader.load(sandbox.writeRelayConfig(), env);
  }

  @AfterAll
  static void stopSandbox() throws Exception {
    sandbox.close().await(10, TimeUnit.SECONDS);
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  private static ch.qos.logback.classic.Logger root() {
    return (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
  }

  @BeforeEach
  void setUp() throws Exception {
    sandbox.faults().reset();
    logs.start();
    root().addAppender(logs);
    source = new MsalTokenSource(settings.microsoft());
    tokens = new TokenCache(source);
    transport = transport(settings.smtpOauth(), settings.microsoft().caFile());
  }

  @AfterEach
  void tearDown() throws Exception {
    transport.close();
    String token = tokens.token().get(10, TimeUnit.SECONDS);
    source.close();
    root().detachAppender(logs);
    for (ILoggingEvent e : logs.list) {
      assertThat(e.getFormattedMessage()).doesNotContain(token);
    }
  }

  SmtpOauthTransport transport(Settings.SmtpOauth smtp, Path ca) throws Exception {
    Settings.Delivery d = new Settings.Delivery(8, 4, 30, Duration.ofMinutes(1), Duration.ofMinutes(30),
        Duration.ofDays(5), false, null);
    return new SmtpOauthTransport(vertx, smtp, d, "relay.test", tokens, ca);
  }

  Submission submission(String mailbox, String mime, String... rcpts) throws Exception {
    Path file = Files.write(dir.resolve("m" + System.nanoTime() + ".eml"), mime.getBytes(StandardCharsets.UTF_8));
    Envelope env = new Envelope(Envelope.FORMAT_VERSION, "id" + System.nanoTime(), "device@legacy.local",
        List.of(rcpts), "10.0.0.9", "scanner", Instant.now(), mime.length(), 0, null, null);
    return new Submission(env, mailbox, file);
  }

  Outcome send(Submission s) throws Exception {
    return transport.send(s).await(60, TimeUnit.SECONDS);
  }

  static String mime(String from, String extraHeaders, String body) {
    return "From: Scanner <" + from + ">\r\nTo: Alice <alice@contoso.example>\r\n" + extraHeaders
        + "Subject: scan\r\nMessage-ID: <" + System.nanoTime() + "@contoso.example>\r\n\r\n" + body;
  }

  ReceivedMessage last() {
    List<ReceivedMessage> all = sandbox.received();
    return all.get(all.size() - 1);
  }

  @Test
  void trueEnvelopeTheMailboxAsSenderEveryRecipientAndNoBccHeader() throws Exception {
    String body = "line one\r\n.starts with a dot\r\n..two dots\r\n.\r\nend\r\n";
    String sent = mime(BOX, "Bcc: hidden@partner.example,\r\n secret@partner.example\r\n", body);
    Outcome o = send(submission(BOX, sent, "alice@contoso.example", "hidden@partner.example",
        "Secret@partner.example", "secret@partner.example"));
    assertThat(o.isDelivered()).as(o.toString()).isTrue();
    ReceivedMessage r = last();
    assertThat(r.transport()).isEqualTo("smtp");
    assertThat(r.mailbox()).isEqualTo(BOX);
    assertThat(r.envelopeSender()).as("MAIL FROM is the sending mailbox, not the device").isEqualTo(BOX);
    assertThat(r.envelopeRecipients()).as("one RCPT per recipient, duplicates once")
        .containsExactly("alice@contoso.example", "hidden@partner.example", "Secret@partner.example");
    assertThat(new String(r.mime(), StandardCharsets.UTF_8)).as("the MIME without Bcc:, dots intact")
        .isEqualTo(sent.replace("Bcc: hidden@partner.example,\r\n secret@partner.example\r\n", ""));
  }

  @Test
  void oneAuthenticatedSessionAndOneTokenForManyMessages() throws Exception {
    int sessions = sandbox.smtpSessions();
    int tokenRequests = sandbox.tokenRequests();
    for (int i = 0; i < 5; i++) {
      assertThat(send(submission(BOX, mime(BOX, "", "n" + i + "\r\n"), "alice@contoso.example")).isDelivered())
          .isTrue();
    }
    assertThat(sandbox.smtpSessions() - sessions).as("reused with RSET between messages").isEqualTo(1);
    assertThat(sandbox.tokenRequests() - tokenRequests).isEqualTo(1);
    assertThat(transport.idleSessions()).isEqualTo(1);
    transport.close();
    assertThat(transport.idleSessions()).isZero();
  }

  @Test
  void aMessageThatNeedsRepairIsCleanedLikeForEws() throws Exception {
    String raw = "From: " + BOX + "\nTo: alice@contoso.example\nSubject: Grüße\n\nbare LF body\n";
    Submission s = submission(BOX, raw, "alice@contoso.example");
    assertThat(send(s).isDelivered()).isTrue();
    byte[] expected = new MimeHygiene(java.nio.charset.Charset.forName("windows-1252"))
        .clean(raw.getBytes(StandardCharsets.UTF_8));
    assertThat(last().mime()).isEqualTo(expected);
    assertThat(new String(last().mime(), StandardCharsets.US_ASCII)).contains("Subject: =?UTF-8?").contains("\r\n");
  }

  @Test
  void aTemporaryRecipientRefusalSendsNothingAndRetriesTheWholeMessage() throws Exception {
    sandbox.faults().smtp().reply(SmtpFaults.Stage.RCPT, "452 4.5.3 Too many recipients", 1);
    int before = sandbox.received().size();
    Outcome o = send(submission(BOX, mime(BOX, "", "x\r\n"), "alice@contoso.example", "bob@contoso.example"));
    assertThat(o.kind()).isEqualTo(Kind.TRANSIENT);
    assertThat(o.code()).isEqualTo("SMTP 452 4.5.3");
    assertThat(sandbox.received()).hasSize(before);
    assertThat(send(submission(BOX, mime(BOX, "", "x\r\n"), "alice@contoso.example")).isDelivered())
        .as("the session was reset and still works").isTrue();
  }

  @Test
  void everyRecipientRefusedIsPermanentSomeRefusedIsDeliveredToTheOthers() throws Exception {
    sandbox.faults().smtp().reply(SmtpFaults.Stage.RCPT, "550 5.1.1 User unknown", 2);
    int before = sandbox.received().size();
    Outcome all = send(submission(BOX, mime(BOX, "", "x\r\n"), "typo1@contoso.example", "typo2@contoso.example"));
    assertThat(all.kind()).isEqualTo(Kind.PERMANENT);
    assertThat(all.code()).isEqualTo("SMTP 550 5.1.1");
    assertThat(sandbox.received()).hasSize(before);

    sandbox.faults().smtp().reply(SmtpFaults.Stage.RCPT, "550 5.1.1 User unknown", 1);
    Submission s = submission(BOX, mime(BOX, "", "x\r\n"), "typo@contoso.example", "alice@contoso.example");
    assertThat(send(s).isDelivered()).isTrue();
    assertThat(last().envelopeRecipients()).containsExactly("alice@contoso.example");
    assertThat(logs.list).anyMatch(e -> e.getLoggerName().equals("relay365.mail")
        && e.getFormattedMessage().startsWith("refused-rcpt id=" + s.envelope().id())
        && e.getFormattedMessage().contains("typo@contoso.example SMTP 550 5.1.1"));
  }

  @Test
  void anAuthRefusalWithAnUnprovenTokenIsRetriedOnceWithAFreshOne() throws Exception {
    sandbox.faults().smtp().reply(SmtpFaults.Stage.AUTH, "535 5.7.3 Authentication unsuccessful [host]", 1);
    int tokenRequests = sandbox.tokenRequests();
    assertThat(send(submission(BOX, mime(BOX, "", "x\r\n"), "alice@contoso.example")).isDelivered()).isTrue();
    assertThat(sandbox.tokenRequests() - tokenRequests).as("the first token, then a fresh one").isEqualTo(2);

    // the token has now authenticated a session: a mailbox-specific refusal does not cost a new token
    sandbox.faults().denyMailbox("fax@contoso.example");
    Outcome o = send(submission("fax@contoso.example", mime("fax@contoso.example", "", "x\r\n"),
        "alice@contoso.example"));
    assertThat(o.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(o.scope()).isEqualTo(Scope.MAILBOX);
    assertThat(o.code()).isEqualTo("SMTP 535 5.7.3");
    assertThat(o.detail()).contains("SMTP.SendAsApp").contains("New-ServicePrincipal").contains("FullAccess");
    assertThat(sandbox.tokenRequests() - tokenRequests).isEqualTo(2);
  }

  @Test
  void smtpAuthDisabledIsConfigurationWithoutANewToken() throws Exception {
    sandbox.faults().smtp().authDisabled(true);
    int tokenRequests = sandbox.tokenRequests();
    Outcome o = send(submission(BOX, mime(BOX, "", "x\r\n"), "alice@contoso.example"));
    assertThat(o.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(o.scope()).isEqualTo(Scope.RELAY);
    assertThat(o.code()).isEqualTo("SMTP 535 5.7.139");
    assertThat(sandbox.tokenRequests() - tokenRequests).isEqualTo(1);
  }

  @Test
  void sendAsAnotherAddressAndTheMinuteQuotaAreClassifiedPerMailbox() throws Exception {
    Outcome denied = send(submission(BOX, mime("ceo@contoso.example", "", "x\r\n"), "alice@contoso.example"));
    assertThat(denied.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(denied.scope()).isEqualTo(Scope.MAILBOX);
    assertThat(denied.code()).isEqualTo("SMTP 554 5.2.252");

    sandbox.faults().smtp().submissionRate(1, Duration.ofMinutes(1));
    String box = "quota@contoso.example";
    assertThat(send(submission(box, mime(box, "", "1\r\n"), "alice@contoso.example")).isDelivered()).isTrue();
    Outcome quota = send(submission(box, mime(box, "", "2\r\n"), "alice@contoso.example"));
    assertThat(quota.kind()).isEqualTo(Kind.TRANSIENT);
    assertThat(quota.scope()).isEqualTo(Scope.MAILBOX);
    assertThat(quota.retryAfter()).isEqualTo(Duration.ofSeconds(60));
  }

  @Test
  void noReplyAfterTheFinalDotIsAmbiguousButBeforeItIsNot() throws Exception {
    sandbox.faults().smtp().reply(SmtpFaults.Stage.DOT, SmtpFaults.DROP, 1);
    Outcome dropped = send(submission(BOX, mime(BOX, "", "x\r\n"), "alice@contoso.example"));
    assertThat(dropped.ambiguous()).as(dropped.toString()).isTrue();
    assertThat(dropped.kind()).isEqualTo(Kind.TRANSIENT);

    sandbox.faults().smtp().reply(SmtpFaults.Stage.RCPT, SmtpFaults.DROP, 1);
    Outcome early = send(submission(BOX, mime(BOX, "", "x\r\n"), "alice@contoso.example"));
    assertThat(early.ambiguous()).isFalse();
    assertThat(early.kind()).isEqualTo(Kind.TRANSIENT);
  }

  @Test
  void aTimeoutWaitingForTheAnswerToTheMessageIsAmbiguous() throws Exception {
    transport.close();
    transport = transport(new Settings.SmtpOauth(sandbox.smtpHost(), sandbox.smtpPort(), Duration.ofMillis(1500)),
        settings.microsoft().caFile());
    tokens.token().get(10, TimeUnit.SECONDS); // the token endpoint is not what is slow here
    sandbox.faults().smtp().latency(Duration.ofMillis(4000));
    Outcome o = send(submission(BOX, mime(BOX, "", "x\r\n"), "alice@contoso.example"));
    assertThat(o.ambiguous()).as(o.toString()).isTrue();
    assertThat(o.code()).isEqualTo("timeout");
  }

  @Test
  void anUntrustedCertificateStopsBeforeAuthentication() throws Exception {
    transport.close();
    transport = transport(settings.smtpOauth(), null); // system CAs only: the sandbox CA is unknown
    int messages = sandbox.smtpMessages();
    Outcome o = send(submission(BOX, mime(BOX, "", "x\r\n"), "alice@contoso.example"));
    assertThat(o.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(o.code()).isEqualTo("tls");
    assertThat(o.detail()).contains("microsoft.ca-file");
    assertThat(sandbox.smtpMessages()).isEqualTo(messages);
  }

  @Test
  void aServerWithoutStartTlsNeverSeesAuthOrMail() throws Exception {
    List<String> seen = new CopyOnWriteArrayList<>();
    try (ServerSocket server = new ServerSocket(0)) {
      CompletableFuture.runAsync(() -> {
        try (Socket s = server.accept()) {
          BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
          OutputStream out = s.getOutputStream();
          out.write("220 plain.example ESMTP\r\n".getBytes(StandardCharsets.US_ASCII));
          String line;
          while ((line = in.readLine()) != null) {
            seen.add(line);
            String reply = line.startsWith("EHLO") ? "250-plain.example\r\n250-AUTH LOGIN XOAUTH2\r\n250 SIZE 1000\r\n"
                : line.startsWith("QUIT") ? "221 bye\r\n" : "250 ok\r\n";
            out.write(reply.getBytes(StandardCharsets.US_ASCII));
          }
        } catch (Exception ignored) {
          // the client hung up
        }
      });
      transport.close();
      transport = transport(new Settings.SmtpOauth("127.0.0.1", server.getLocalPort(), Duration.ofSeconds(10)),
          settings.microsoft().caFile());
      Outcome o = send(submission(BOX, mime(BOX, "", "x\r\n"), "alice@contoso.example"));
      assertThat(o.kind()).isEqualTo(Kind.CONFIGURATION);
      assertThat(o.code()).isEqualTo("starttls");
    }
    assertThat(seen).noneMatch(l -> l.startsWith("AUTH") || l.startsWith("MAIL") || l.startsWith("DATA"));
  }

  @Test
  void aClosedPortIsTransientAndNotAmbiguous() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    transport.close();
    transport = transport(new Settings.SmtpOauth("127.0.0.1", closed, Duration.ofSeconds(5)),
        settings.microsoft().caFile());
    Outcome o = send(submission(BOX, mime(BOX, "", "x\r\n"), "alice@contoso.example"));
    assertThat(o.kind()).isEqualTo(Kind.TRANSIENT);
    assertThat(o.code()).isEqualTo("connect");
    assertThat(o.ambiguous()).isFalse();
  }

  /** The queue runner in front of this transport, with a short rate window so that a test can see it work. */
  QueueRunner runner(Spool spool, int perMailboxRate, Duration window) throws Exception {
    Settings.Delivery d = new Settings.Delivery(8, 3, perMailboxRate, Duration.ofMillis(300), Duration.ofSeconds(1),
        Duration.ofDays(5), false, null, Settings.TransportKind.SMTP_OAUTH);
    QueueRunner r = new QueueRunner(vertx, spool, transport, new MailboxResolver(new Settings.Sender(
        Settings.SenderMode.ENVELOPE, null, Map.of(), null)), d, MailEvents.NONE, "relay.test", Clock.systemUTC(),
        new RetryPolicy(d.minBackoff(), d.maxBackoff(), d.maxLifetime(), () -> 0.5), window, Duration.ofMillis(100));
    r.start().await(10, TimeUnit.SECONDS);
    return r;
  }

  static void spool(Spool spool, QueueRunner runner, String mailbox, int count) throws Exception {
    for (int i = 0; i < count; i++) {
      try (Incoming in = spool.begin()) {
        // every third one is large: its upload takes longer, so ends of attempts do not follow their starts
        String body = i % 3 == 0 ? ("x".repeat(76) + "\r\n").repeat(20_000) : "small\r\n";
        in.body().write(mime(mailbox, "", body).getBytes(StandardCharsets.US_ASCII));
        runner.submit(in.commit(mailbox, List.of("alice@contoso.example"), "127.0.0.1", "dev"));
      }
    }
  }

  @Test
  void theRelaysPerMailboxRateKeepsTheMinuteRuleFromEverFiring() throws Exception {
    // Exchange's 30 a minute, scaled down: 4 per 1.5 s on both sides
    sandbox.faults().smtp().submissionRate(4, Duration.ofMillis(1500));
    String box = "paced@contoso.example";
    Spool spool = Spool.open(dir.resolve("paced-spool"));
    QueueRunner runner = runner(spool, 4, Duration.ofMillis(1500));
    try {
      int rejections = sandbox.smtpQuotaRejections();
      spool(spool, runner, box, 10);
      org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> spool.size() == 0);
      assertThat(sandbox.received().stream().filter(m -> box.equals(m.mailbox()))).hasSize(10);
      assertThat(sandbox.smtpQuotaRejections()).isEqualTo(rejections);
    } finally {
      runner.stop(Duration.ofSeconds(5)).await(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void withoutThePacingExchangeWouldRejectTheExcess() throws Exception {
    sandbox.faults().smtp().submissionRate(4, Duration.ofMillis(1500));
    Spool spool = Spool.open(dir.resolve("unpaced-spool"));
    QueueRunner runner = runner(spool, 1000, Duration.ofMillis(1500));
    try {
      int rejections = sandbox.smtpQuotaRejections();
      spool(spool, runner, "unpaced@contoso.example", 8);
      org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30))
          .until(() -> sandbox.smtpQuotaRejections() > rejections);
    } finally {
      runner.stop(Duration.ofSeconds(5)).await(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aMissingSpoolFileIsASpoolProblem() throws Exception {
    Submission s = submission(BOX, mime(BOX, "", "x\r\n"), "alice@contoso.example");
    Files.delete(s.message());
    Outcome o = send(s);
    assertThat(o.code()).isEqualTo("spool");
  }
}
