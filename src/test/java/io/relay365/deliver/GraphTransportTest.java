package io.relay365.deliver;

import static org.assertj.core.api.Assertions.assertThat;

import io.relay365.config.Settings;
import io.relay365.config.SettingsLoader;
import io.relay365.deliver.Outcome.Kind;
import io.relay365.deliver.Outcome.Scope;
import io.relay365.sandbox.GraphFaults.Op;
import io.relay365.sandbox.ReceivedMessage;
import io.relay365.sandbox.Sandbox;
import io.relay365.sandbox.SandboxOptions;
import io.relay365.store.Envelope;
import io.relay365.tls.CertificateAuthority;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import jakarta.activation.DataHandler;
import jakarta.mail.BodyPart;
import jakarta.mail.Message;
import jakarta.mail.Multipart;
import jakarta.mail.Part;
import jakarta.mail.Session;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeBodyPart;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import jakarta.mail.util.ByteArrayDataSource;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GraphTransport against the sandbox's Graph over real HTTPS with tokens from msal4j: sendMail, the
 * large-message path with upload sessions, Bcc, the one token retry, and each failure class.
 */
class GraphTransportTest {
  static final String MAILBOX = "scanner@contoso.example";
  static final String MIME = "From: Scanner <scanner@contoso.example>\r\n"
      + "To: Alice <alice@contoso.example>\r\n"
      + "Bcc: hidden@partner.example,\r\n not-a-recipient@elsewhere.example\r\n"
      + "Subject: scan\r\n"
      + "Message-ID: <graph-1@contoso.example>\r\n\r\nbody\r\n";
  static final String VISIBLE = "From: Scanner <scanner@contoso.example>\r\n"
      + "To: Alice <alice@contoso.example>\r\n"
      + "Subject: scan\r\n"
      + "Message-ID: <graph-1@contoso.example>\r\n\r\nbody\r\n";
  static final List<String> RCPTS = List.of("alice@contoso.example", "Hidden@partner.example",
      "envelope-only@partner.example");

  @TempDir
  static Path dir;
  static Vertx vertx;
  static Sandbox sandbox;
  static Path fragment;

  final Map<String, String> env = new HashMap<>();
  final List<AutoCloseable> closing = new ArrayList<>();
  final ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> logs =
      new ch.qos.logback.core.read.ListAppender<>();
  /** Loggers raised to DEBUG for the test: none of them may print a bearer token or an upload URL's token. */
  static final List<String> DEBUG = List.of("io.relay365", "io.vertx", "io.netty");
  final Map<String, ch.qos.logback.classic.Level> savedLevels = new HashMap<>();
  int seq;

  @BeforeAll
  static void start() throws Exception {
    vertx = Vertx.vertx();
    sandbox = Sandbox.start(vertx, new SandboxOptions().dataDir(dir.resolve("sandbox"))).await(60, TimeUnit.SECONDS);
    fragment = sandbox.writeRelayConfig();
  }

  @AfterAll
  static void stop() throws Exception {
    sandbox.close().await(10, TimeUnit.SECONDS);
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  private static ch.qos.logback.classic.Logger root() {
    return (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
  }

  @BeforeEach
  void setUp() {
    sandbox.faults().reset();
    env.put("RELAY365_SPOOL_DIR", dir.resolve("spool").toString());
    env.put("RELAY365_DELIVERY_TRANSPORT", "graph");
    env.put("RELAY365_GRAPH_TIMEOUT", "10s");
    logs.start();
    root().addAppender(logs);
    for (String name : DEBUG) {
      ch.qos.logback.classic.Logger l = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(name);
      savedLevels.put(name, l.getLevel());
      l.setLevel(ch.qos.logback.classic.Level.DEBUG);
    }
  }

  @AfterEach
  void tearDown() throws Exception {
    for (AutoCloseable c : closing) {
      c.close();
    }
    root().detachAppender(logs);
    savedLevels.forEach((name, level) ->
        ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(name)).setLevel(level));
    for (ch.qos.logback.classic.spi.ILoggingEvent e : logs.list) {
      String text = e.getFormattedMessage() + (e.getThrowableProxy() == null ? ""
          : ch.qos.logback.classic.spi.ThrowableProxyUtil.asString(e.getThrowableProxy()));
      assertThat(text).doesNotContain("Bearer ey").doesNotContain("authtoken=");
    }
    assertThat(sandbox.graphDrafts()).as("no draft left behind").isZero();
  }

  /** A transport built the way Relay builds it, from the sandbox's configuration fragment. */
  GraphTransport transport() throws Exception {
    return transport(SettingsLoader.load(fragment, env));
  }

  GraphTransport transport(Settings s) throws Exception {
    MsalTokenSource source = new MsalTokenSource(s.microsoft());
    closing.add(source);
    tokens = new TokenCache(source);
    GraphTransport t = (GraphTransport) Transports.create(vertx, s, tokens);
    closing.add(0, t);
    return t;
  }

  TokenCache tokens;

  Submission submission(String mailbox, byte[] mime, List<String> rcpts) throws Exception {
    Path file = Files.write(dir.resolve("m" + System.nanoTime() + ".eml"), mime);
    Envelope env = new Envelope(Envelope.FORMAT_VERSION, "q" + (++seq), mailbox, rcpts, "10.0.0.9", "scanner",
        Instant.now(), mime.length, 0, null, null);
    return new Submission(env, mailbox, file);
  }

  Outcome send(GraphTransport t, Submission s) throws Exception {
    return t.send(s).await(120, TimeUnit.SECONDS);
  }

  ReceivedMessage last() {
    List<ReceivedMessage> all = sandbox.received();
    return all.get(all.size() - 1);
  }

  // ---- sendMail ------------------------------------------------------------------------------------

  @Test
  void smallMessageGoesInOneSendMailWithHiddenRecipientsInBcc() throws Exception {
    GraphTransport t = transport();
    int before = sandbox.received().size();
    int tokenRequests = sandbox.tokenRequests();

    Outcome o = send(t, submission(MAILBOX, MIME.getBytes(StandardCharsets.US_ASCII), RCPTS));

    assertThat(o.kind()).as(o.toString()).isEqualTo(Kind.DELIVERED);
    assertThat(sandbox.received()).hasSize(before + 1);
    ReceivedMessage r = last();
    assertThat(r.transport()).isEqualTo("graph");
    assertThat(r.path()).isEqualTo("sendMail");
    assertThat(r.mailbox()).isEqualTo(MAILBOX);
    assertThat(r.tokenId()).isNotBlank();
    // envelope-only recipients are Bcc; an address only the client's Bcc: named is not a recipient
    assertThat(r.bccRecipients()).containsExactly("Hidden@partner.example", "envelope-only@partner.example");
    assertThat(new String(r.mime(), StandardCharsets.US_ASCII)).isEqualTo(VISIBLE);
    assertThat(sandbox.tokenRequests() - tokenRequests).isEqualTo(1);
  }

  @Test
  void mailboxIsPercentEncodedInThePath() throws Exception {
    GraphTransport t = transport();
    for (String mailbox : List.of("scan+fax@contoso.example", "$svc@contoso.example", "o'brien@contoso.example",
        "jörg@contoso.example")) {
      Outcome o = send(t, submission(mailbox, MIME.getBytes(StandardCharsets.US_ASCII), RCPTS));
      assertThat(o.kind()).as(mailbox + ": " + o).isEqualTo(Kind.DELIVERED);
      assertThat(last().mailbox()).isEqualTo(mailbox);
    }
    assertThat(GraphTransport.userSegment("a+b/c?d#e%f@x.example")).isEqualTo("users/a%2Bb%2Fc%3Fd%23e%25f@x.example");
  }

  @Test
  void sendsNeverBlockTheEventLoopAndShareOneToken() throws Exception {
    GraphTransport t = transport();
    sandbox.faults().graph().latency(Duration.ofMillis(500));
    int tokenRequests = sandbox.tokenRequests();
    Promise<Long> returnedAfter = Promise.promise();
    List<Future<Outcome>> all = new ArrayList<>();
    Promise<Void> started = Promise.promise();
    vertx.runOnContext(v -> {
      long t0 = System.nanoTime();
      for (int i = 0; i < 4; i++) {
        try {
          all.add(t.send(submission(MAILBOX, MIME.getBytes(StandardCharsets.US_ASCII), RCPTS)));
        } catch (Exception e) {
          throw new AssertionError(e);
        }
      }
      returnedAfter.complete((System.nanoTime() - t0) / 1_000_000);
      started.complete();
    });
    started.future().await(10, TimeUnit.SECONDS);
    assertThat(returnedAfter.future().await(10, TimeUnit.SECONDS)).isLessThan(400);
    for (Future<Outcome> f : all) {
      assertThat(f.await(30, TimeUnit.SECONDS).kind()).isEqualTo(Kind.DELIVERED);
    }
    assertThat(sandbox.tokenRequests() - tokenRequests).isEqualTo(1);
  }

  // ---- the token -----------------------------------------------------------------------------------

  @Test
  void aRejectedTokenIsReplacedOnceThenItIsConfiguration() throws Exception {
    GraphTransport t = transport();
    sandbox.faults().graph().error(Op.SEND_MAIL, 401, null, null, 1);
    int tokenRequests = sandbox.tokenRequests();
    assertThat(send(t, submission(MAILBOX, MIME.getBytes(StandardCharsets.US_ASCII), RCPTS)).kind())
        .isEqualTo(Kind.DELIVERED);
    assertThat(sandbox.tokenRequests() - tokenRequests).as("one fresh token").isEqualTo(2);

    sandbox.faults().graph().error(Op.SEND_MAIL, 401, null, null, 2);
    Outcome o = send(t, submission(MAILBOX, MIME.getBytes(StandardCharsets.US_ASCII), RCPTS));
    assertThat(o.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(o.code()).isEqualTo("InvalidAuthenticationToken");
    assertThat(o.scope()).isEqualTo(Scope.RELAY);
  }

  @Test
  void anExchangeTokenIsRefusedByGraph() throws Exception {
    // a token for Exchange Online instead of Graph (the configuration refuses microsoft.scope set so, but a
    // login URL of another cloud or a proxy can still hand Graph a foreign token): every one is refused (401)
    Settings g = SettingsLoader.load(fragment, env);
    Settings.Microsoft m = g.microsoft();
    Settings s = new Settings(g.smtp(), g.spool(), new Settings.Microsoft(m.tenantId(), m.clientId(),
        m.clientSecret(), m.certificate(), m.loginUrl(), m.caFile(), sandbox.scope(), m.timeout(), m.secretExpires()),
        g.ews(), g.sender(), g.delivery(), g.admin(), g.graph(), g.smtpOauth());
    Outcome o = send(transport(s), submission(MAILBOX, MIME.getBytes(StandardCharsets.US_ASCII), RCPTS));
    assertThat(o.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(o.detail()).contains("Invalid audience").contains("microsoft.scope");
  }

  // ---- failures of one mailbox ---------------------------------------------------------------------

  @Test
  void anAccessPolicyDenialHoldsThatMailboxAndSaysHow() throws Exception {
    sandbox.faults().denyMailbox("fax@contoso.example");
    Outcome o = send(transport(), submission("fax@contoso.example", MIME.getBytes(StandardCharsets.US_ASCII), RCPTS));
    assertThat(o.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(o.scope()).isEqualTo(Scope.MAILBOX);
    assertThat(o.code()).isEqualTo("ErrorAccessDenied");
    assertThat(o.detail()).contains("[RAOP]").contains("Application Access Policy");
  }

  @Test
  void anUnknownMailboxIsAConfigurationOfThatMailbox() throws Exception {
    sandbox.faults().unknownMailbox("nobody@contoso.example");
    Outcome o = send(transport(), submission("nobody@contoso.example", MIME.getBytes(StandardCharsets.US_ASCII),
        RCPTS));
    assertThat(o.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(o.scope()).isEqualTo(Scope.MAILBOX);
    assertThat(o.code()).isEqualTo("ErrorInvalidUser");
    assertThat(o.detail()).contains("sender.");
  }

  @Test
  void throttlingHoldsTheMailboxForAtLeastRetryAfter() throws Exception {
    sandbox.faults().graph().throttle(Op.SEND_MAIL, 7, 1);
    Outcome o = send(transport(), submission(MAILBOX, MIME.getBytes(StandardCharsets.US_ASCII), RCPTS));
    assertThat(o.kind()).isEqualTo(Kind.TRANSIENT);
    assertThat(o.scope()).isEqualTo(Scope.MAILBOX);
    assertThat(o.code()).isEqualTo("TooManyRequests");
    assertThat(o.retryAfter()).isEqualTo(Duration.ofSeconds(7));
    assertThat(o.ambiguous()).isFalse();
  }

  @Test
  void moreThanFourRequestsAtOnceForOneMailboxAreThrottled() throws Exception {
    GraphTransport t = transport();
    sandbox.faults().graph().latency(Duration.ofMillis(800));
    List<Future<Outcome>> all = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      all.add(t.send(submission(MAILBOX, MIME.getBytes(StandardCharsets.US_ASCII), RCPTS)));
    }
    List<Outcome> outcomes = new ArrayList<>();
    for (Future<Outcome> f : all) {
      outcomes.add(f.await(30, TimeUnit.SECONDS));
    }
    assertThat(outcomes).filteredOn(o -> o.kind() == Kind.TRANSIENT)
        .allSatisfy(o -> {
          assertThat(o.code()).isEqualTo("ApplicationThrottled");
          assertThat(o.scope()).isEqualTo(Scope.MAILBOX);
        }).isNotEmpty();
    assertThat(outcomes).filteredOn(Outcome::isDelivered).hasSizeLessThanOrEqualTo(4);
  }

  // ---- failures without an answer ------------------------------------------------------------------

  @Test
  void noAnswerAfterSendMailLeftIsAmbiguous() throws Exception {
    env.put("RELAY365_GRAPH_TIMEOUT", "1s");
    sandbox.faults().graph().latency(Duration.ofSeconds(3));
    Outcome o = send(transport(), submission(MAILBOX, MIME.getBytes(StandardCharsets.US_ASCII), RCPTS));
    assertThat(o.kind()).isEqualTo(Kind.TRANSIENT);
    assertThat(o.ambiguous()).as(o.toString()).isTrue();
    assertThat(o.code()).isEqualTo("timeout");
  }

  @Test
  void aRefusedConnectionIsTransientAndNotAmbiguous() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    env.put("RELAY365_GRAPH_URL", "https://127.0.0.1:" + port);
    env.put("RELAY365_MICROSOFT_SCOPE", sandbox.graphUrl() + "/.default");
    Outcome o = send(transport(), submission(MAILBOX, MIME.getBytes(StandardCharsets.US_ASCII), RCPTS));
    assertThat(o.kind()).isEqualTo(Kind.TRANSIENT);
    assertThat(o.code()).isEqualTo("connect");
    assertThat(o.ambiguous()).isFalse();
  }

  @Test
  void anUntrustedCertificateIsConfiguration() throws Exception {
    // the token endpoint stays trusted (its own client); only Graph's TLS is checked here
    Settings s = SettingsLoader.load(fragment, env);
    MsalTokenSource source = new MsalTokenSource(s.microsoft());
    closing.add(source);
    GraphTransport t = new GraphTransport(vertx, s.graph(), new TokenCache(source), null);
    closing.add(0, t);
    int before = sandbox.graphRequests();
    Outcome o = send(t, submission(MAILBOX, MIME.getBytes(StandardCharsets.US_ASCII), RCPTS));
    assertThat(o.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(o.code()).isEqualTo("tls");
    assertThat(o.detail()).contains("microsoft.ca-file");
    assertThat(sandbox.graphRequests()).isEqualTo(before);
  }

  @Test
  void aCertificateForAnotherNameIsRefused() throws Exception {
    // a server whose certificate, from a CA we trust, names another host: hostname verification must fail
    CertificateAuthority ca = CertificateAuthority.generate("test CA", Duration.ofDays(1));
    Path caFile = dir.resolve("other-ca.pem");
    ca.writeCertificate(caFile);
    CertificateAuthority.Issued cert = ca.issueServer(List.of("graph.other.example"), List.of(), Duration.ofDays(1));
    java.util.concurrent.atomic.AtomicInteger requests = new java.util.concurrent.atomic.AtomicInteger();
    HttpServer server = vertx.createHttpServer(new HttpServerOptions().setSsl(true).setHost("127.0.0.1").setPort(0)
        .setKeyCertOptions(new PemKeyCertOptions().setCertValue(Buffer.buffer(cert.certificatePem()))
            .setKeyValue(Buffer.buffer(cert.keyPem()))))
        .requestHandler(req -> {
          requests.incrementAndGet();
          req.response().setStatusCode(202).end();
        }).listen().await(10, TimeUnit.SECONDS);
    try {
      Settings s = SettingsLoader.load(fragment, env);
      MsalTokenSource source = new MsalTokenSource(s.microsoft());
      closing.add(source);
      GraphTransport t = new GraphTransport(vertx, new Settings.Graph("https://127.0.0.1:" + server.actualPort(),
          Duration.ofSeconds(10)), new TokenCache(source), caFile);
      closing.add(0, t);
      Outcome o = send(t, submission(MAILBOX, MIME.getBytes(StandardCharsets.US_ASCII), RCPTS));
      assertThat(o.kind()).as(o.toString()).isEqualTo(Kind.CONFIGURATION);
      assertThat(o.code()).isEqualTo("tls");
      assertThat(requests.get()).isZero();
    } finally {
      server.close().await(10, TimeUnit.SECONDS);
    }
  }

  // ---- the large-message path ----------------------------------------------------------------------

  static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  /** multipart/mixed: related(html + inline png) + a big PDF + a CSV. */
  static byte[] bigMessage(int pdfBytes) throws Exception {
    MimeMessage msg = new MimeMessage(Session.getInstance(new Properties()));
    msg.setFrom(new InternetAddress("scanner@contoso.example"));
    msg.setRecipient(Message.RecipientType.TO, new InternetAddress("alice@contoso.example"));
    msg.setSubject("Großer Scan ✓", "UTF-8");
    MimeBodyPart html = new MimeBodyPart();
    html.setText("<html><body><img src=\"cid:logo@relay365\"></body></html>", "UTF-8", "html");
    MimeBodyPart image = new MimeBodyPart();
    image.setDataHandler(new DataHandler(new ByteArrayDataSource(random(700_000, 1), "image/png")));
    image.setContentID("<logo@relay365>");
    image.setDisposition(Part.INLINE);
    MimeBodyPart related = new MimeBodyPart();
    related.setContent(new MimeMultipart("related", html, image));
    MimeBodyPart pdf = new MimeBodyPart();
    pdf.setDataHandler(new DataHandler(new ByteArrayDataSource(random(pdfBytes, 2), "application/pdf")));
    pdf.setFileName("scan.pdf");
    MimeBodyPart csv = new MimeBodyPart();
    csv.setDataHandler(new DataHandler(new ByteArrayDataSource(random(600_000, 3), "text/csv")));
    csv.setFileName("Übersicht.csv");
    msg.setContent(new MimeMultipart(related, pdf, csv));
    msg.setHeader("Message-ID", "<big@contoso.example>");
    msg.saveChanges();
    msg.setHeader("Message-ID", "<big@contoso.example>");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    msg.writeTo(out);
    return out.toByteArray();
  }

  static Map<String, byte[]> attachments(byte[] mime) throws Exception {
    MimeMessage m = new MimeMessage(Session.getInstance(new Properties()), new ByteArrayInputStream(mime));
    Map<String, byte[]> out = new HashMap<>();
    collect((Multipart) m.getContent(), out);
    return out;
  }

  private static void collect(Multipart mp, Map<String, byte[]> out) throws Exception {
    for (int i = 0; i < mp.getCount(); i++) {
      BodyPart p = mp.getBodyPart(i);
      if (p.isMimeType("multipart/*")) {
        collect((Multipart) p.getContent(), out);
      } else if (p.getFileName() != null || ((MimeBodyPart) p).getContentID() != null) {
        String cid = ((MimeBodyPart) p).getContentID();
        String key = cid != null ? cid : p.getFileName();
        out.put(key, p.getInputStream().readAllBytes());
      }
    }
  }

  @Test
  void aLargeMessageGoesAsADraftWithUploadedAttachments() throws Exception {
    // with a 1 MB request limit the inline image and the CSV are cut out too, and added by JSON POSTs
    env.put("RELAY365_GRAPH_MAX_REQUEST_SIZE", "1MB");
    byte[] mime = bigMessage(9 * 1024 * 1024);
    int uploads = sandbox.graphUploadRequests();
    int requests = sandbox.graphRequests();
    Outcome o = send(transport(), submission(MAILBOX, mime, RCPTS));

    assertThat(o.kind()).as(o.toString()).isEqualTo(Kind.DELIVERED);
    ReceivedMessage r = last();
    assertThat(r.path()).isEqualTo("draft+upload");
    assertThat(r.bccRecipients()).containsExactly("Hidden@partner.example", "envelope-only@partner.example");
    assertThat(new String(r.mime(), StandardCharsets.ISO_8859_1)).doesNotContainIgnoringCase("bcc:")
        .contains("Message-ID: <big@contoso.example>");
    Map<String, byte[]> sent = attachments(mime);
    Map<String, byte[]> got = attachments(r.mime());
    assertThat(got.keySet()).containsExactlyInAnyOrderElementsOf(sent.keySet());
    for (String k : sent.keySet()) {
      assertThat(got.get(k)).as(k).isEqualTo(sent.get(k));
    }
    // the 9 MiB PDF in chunks of at most 4 MB: 3 PUTs to the upload URL (which refuses Authorization)
    assertThat(sandbox.graphUploadRequests() - uploads).isEqualTo(3);
    // draft, image, CSV, upload session, send
    assertThat(sandbox.graphRequests() - requests).isEqualTo(5);
    MimeMessage m = new MimeMessage(Session.getInstance(new Properties()), new ByteArrayInputStream(r.mime()));
    assertThat(m.getSubject()).isEqualTo("Großer Scan ✓");
    // the image stays inline, next to the HTML that refers to it
    Multipart related = (Multipart) ((Multipart) m.getContent()).getBodyPart(0).getContent();
    assertThat(((Multipart) m.getContent()).getBodyPart(0).isMimeType("multipart/related")).isTrue();
    MimeBodyPart img = (MimeBodyPart) related.getBodyPart(related.getCount() - 1);
    assertThat(img.getContentID()).isEqualTo("<logo@relay365>");
    assertThat(img.getDisposition()).isEqualTo(Part.INLINE);
  }

  @Test
  void sendMailRefusedAsTooLargeFallsBackToTheDraftPath() throws Exception {
    // a relay that believes in a larger request limit than Graph has: 413, then the draft path
    env.put("RELAY365_GRAPH_MAX_REQUEST_SIZE", "16MB");
    byte[] mime = bigMessage(3_200_000);
    Outcome o = send(transport(), submission(MAILBOX, mime, RCPTS));
    assertThat(o.kind()).as(o.toString()).isEqualTo(Kind.DELIVERED);
    assertThat(last().path()).isEqualTo("draft+upload");
  }

  @Test
  void withoutMailReadWriteALargeMessageNamesThePermissionAndLeavesNoDraft() throws Exception {
    sandbox.faults().rolesInToken(List.of("Mail.Send"));
    env.put("RELAY365_GRAPH_MAX_REQUEST_SIZE", "1MB");
    Outcome o = send(transport(), submission(MAILBOX, bigMessage(3_200_000), RCPTS));
    assertThat(o.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(o.scope()).as("only large messages need it").isEqualTo(Scope.MESSAGE);
    assertThat(o.detail()).contains("Mail.ReadWrite");
    // small mail still goes with Mail.Send alone
    assertThat(send(transport(), submission(MAILBOX, MIME.getBytes(StandardCharsets.US_ASCII), RCPTS)).kind())
        .isEqualTo(Kind.DELIVERED);
  }

  @Test
  void aFailedStepDeletesTheDraftAndIsClassified() throws Exception {
    env.put("RELAY365_GRAPH_MAX_REQUEST_SIZE", "1MB");
    byte[] big = bigMessage(3_200_000);
    sandbox.faults().graph().error(Op.SEND_DRAFT, 503, null, 30, 1);
    int before = sandbox.received().size();
    Outcome o = send(transport(), submission(MAILBOX, big, RCPTS));
    assertThat(o.kind()).isEqualTo(Kind.TRANSIENT);
    assertThat(o.scope()).isEqualTo(Scope.MAILBOX);
    assertThat(o.retryAfter()).isEqualTo(Duration.ofSeconds(30));
    assertThat(sandbox.received()).hasSize(before);
    // tearDown checks that no draft was left

    sandbox.faults().graph().error(Op.UPLOAD, 500, null, null, 1);
    o = send(transport(), submission(MAILBOX, big, RCPTS));
    assertThat(o.kind()).isEqualTo(Kind.TRANSIENT);
    assertThat(o.ambiguous()).as("nothing was sent yet").isFalse();
    assertThat(sandbox.received()).hasSize(before);
  }

  @Test
  void overMaxSendSizeIsPermanent() throws Exception {
    sandbox.faults().maxMessageSize(4L * 1024 * 1024);
    env.put("RELAY365_GRAPH_MAX_REQUEST_SIZE", "1MB");
    Outcome o = send(transport(), submission(MAILBOX, bigMessage(3_200_000), RCPTS));
    assertThat(o.kind()).isEqualTo(Kind.PERMANENT);
    assertThat(o.code()).isEqualTo("ErrorMessageSizeExceeded");
  }

  @Test
  void aSinglePartMessageTooLargeForOneRequestIsPermanent() throws Exception {
    StringBuilder b = new StringBuilder("From: scanner@contoso.example\r\nTo: alice@contoso.example\r\n"
        + "Subject: one big part\r\n\r\n");
    String line = "A".repeat(76) + "\r\n";
    while (b.length() < 5 * 1024 * 1024) {
      b.append(line);
    }
    Outcome o = send(transport(), submission(MAILBOX, b.toString().getBytes(StandardCharsets.US_ASCII), RCPTS));
    assertThat(o.kind()).isEqualTo(Kind.PERMANENT);
    assertThat(o.code()).isEqualTo("too-large");
  }
}
