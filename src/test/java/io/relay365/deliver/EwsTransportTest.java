package io.relay365.deliver;

import static org.assertj.core.api.Assertions.assertThat;

import io.relay365.config.Settings;
import io.relay365.deliver.FakeEws.Reply;
import io.relay365.deliver.TokenSource.AccessToken;
import io.relay365.store.Envelope;
import io.relay365.tls.CertificateAuthority;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EwsTransportTest {
  private static final String MAILBOX = "scanner@contoso.com";
  private static final String MIME = "From: Scanner <scanner@contoso.com>\r\n"
      + "To: Alice <alice@contoso.com>\r\n"
      + "Bcc: hidden@example.com,\r\n secret@example.com\r\n"
      + "Subject: scan\r\n\r\nbody\r\n";
  private static final String STRIPPED = "From: Scanner <scanner@contoso.com>\r\n"
      + "To: Alice <alice@contoso.com>\r\n"
      + "Subject: scan\r\n\r\nbody\r\n";

  private static Vertx vertx;
  private static CertificateAuthority ca;
  private static CertificateAuthority otherCa;
  private static FakeEws fake;
  @TempDir
  static Path dir;
  private static Path caFile;
  private static Path otherCaFile;

  private final List<String> fetchThreads = new CopyOnWriteArrayList<>();
  private final AtomicInteger fetchCount = new AtomicInteger();
  private TokenCache tokens;
  private EwsTransport transport;
  private Path message;

  @BeforeAll
  static void start() throws Exception {
    vertx = Vertx.vertx();
    ca = CertificateAuthority.generate("relay365 test CA", Duration.ofDays(1));
    otherCa = CertificateAuthority.generate("some other CA", Duration.ofDays(1));
    caFile = dir.resolve("ca.pem");
    ca.writeCertificate(caFile);
    otherCaFile = dir.resolve("other-ca.pem");
    otherCa.writeCertificate(otherCaFile);
    fake = new FakeEws(vertx, ca.issueServer(List.of("localhost"), List.of("127.0.0.1"), Duration.ofDays(1)));
  }

  @AfterAll
  static void stop() throws Exception {
    fake.close();
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  private final ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> logs =
      new ch.qos.logback.core.read.ListAppender<>();

  private static ch.qos.logback.classic.Logger root() {
    return (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
  }

  @BeforeEach
  void setUp() throws Exception {
    logs.start();
    root().addAppender(logs);
    fake.replies.clear();
    fake.requests.clear();
    // token "t1", then "t2", …; fetch() records the thread it is called on (the EWS worker)
    tokens = new TokenCache(() -> {
      fetchThreads.add(Thread.currentThread().getName());
      return CompletableFuture.completedFuture(
          new AccessToken("t" + fetchCount.incrementAndGet(), Instant.now().plus(Duration.ofHours(1))));
    });
    message = Files.writeString(dir.resolve("message-" + System.nanoTime() + ".eml"), MIME);
    transport = transport(Settings.Disposition.SEND_AND_SAVE_COPY, caFile);
  }

  @AfterEach
  void tearDown() {
    transport.close();
    root().detachAppender(logs);
    // no log line, at any level, may carry the bearer token (ews tracing off, HttpClient wire logs capped)
    for (ch.qos.logback.classic.spi.ILoggingEvent e : logs.list) {
      assertThat(e.getFormattedMessage()).doesNotContain("Bearer t");
    }
  }

  /** Messages above this go as the streamed CreateItem; here every one goes through ews-java-api. */
  long streamAbove() {
    return EwsTransport.STREAM_ABOVE;
  }

  private EwsTransport transport(Settings.Disposition disposition, Path trust) throws Exception {
    return new EwsTransport(vertx, new Settings.Ews(fake.url(), disposition, 2, Duration.ofSeconds(10)), tokens,
        trust, streamAbove());
  }

  private Submission submission() {
    Envelope env = new Envelope(Envelope.FORMAT_VERSION, "m1", MAILBOX,
        List.of("alice@contoso.com", "Hidden@example.com", "secret@example.com"), "10.0.0.9", "scanner",
        Instant.now(), MIME.length(), 0, null, null);
    return new Submission(env, MAILBOX, message);
  }

  private Outcome send(EwsTransport t) throws Exception {
    return t.send(submission()).await(20, TimeUnit.SECONDS);
  }

  private static String group(String body, String regex) {
    Matcher m = Pattern.compile(regex, Pattern.DOTALL).matcher(body);
    return m.find() ? m.group(1) : null;
  }

  @Test
  void sendsMimeWithoutBccAndHiddenRecipientsAsTheMailbox() throws Exception {
    Outcome o = send(transport);

    assertThat(o.kind()).isEqualTo(Outcome.Kind.DELIVERED);
    assertThat(fake.requests).hasSize(1);
    FakeEws.Request r = fake.requests.get(0);
    assertThat(r.headers().get("Authorization")).isEqualTo("Bearer t1");
    assertThat(r.headers().get("X-AnchorMailbox")).isEqualTo(MAILBOX);
    assertThat(group(r.body(), "<t:ExchangeImpersonation>.*<t:SmtpAddress>([^<]*)</t:SmtpAddress>"))
        .isEqualTo(MAILBOX);
    assertThat(group(r.body(), "MessageDisposition=\"([^\"]*)\"")).isEqualTo("SendAndSaveCopy");
    assertThat(group(r.body(), "<m:SavedItemFolderId>\\s*<t:DistinguishedFolderId Id=\"([^\"]*)\""))
        .isEqualTo("sentitems");
    String mime = group(r.body(), "<t:MimeContent[^>]*>([^<]*)</t:MimeContent>");
    assertThat(new String(Base64.getDecoder().decode(mime), StandardCharsets.UTF_8)).isEqualTo(STRIPPED);
    String bcc = group(r.body(), "<t:BccRecipients>(.*)</t:BccRecipients>");
    assertThat(bcc).contains("<t:EmailAddress>Hidden@example.com</t:EmailAddress>")
        .contains("<t:EmailAddress>secret@example.com</t:EmailAddress>")
        .doesNotContain("alice@contoso.com");
    // schema order: MimeContent before BccRecipients (§2.2)
    assertThat(r.body().indexOf("MimeContent")).isLessThan(r.body().indexOf("BccRecipients"));
  }

  @Test
  void sendOnlyKeepsNoCopy() throws Exception {
    try (EwsTransport t = transport(Settings.Disposition.SEND_ONLY, caFile)) {
      assertThat(send(t).kind()).isEqualTo(Outcome.Kind.DELIVERED);
    }
    String body = fake.requests.get(0).body();
    assertThat(group(body, "MessageDisposition=\"([^\"]*)\"")).isEqualTo("SendOnly");
    assertThat(body).doesNotContain("SavedItemFolderId");
  }

  @Test
  void sendAsDeniedIsConfiguration() throws Exception {
    fake.replies.add(Reply.xml(200, FakeEws.SEND_AS_DENIED));
    Outcome o = send(transport);
    assertThat(o.kind()).isEqualTo(Outcome.Kind.CONFIGURATION);
    assertThat(o.code()).isEqualTo("ErrorSendAsDenied");
    assertThat(o.detail()).contains("SendAs");
  }

  @Test
  void serverBusyFaultIsTransientWithMicrosoftsBackoff() throws Exception {
    fake.replies.add(Reply.xml(500, FakeEws.SERVER_BUSY_FAULT));
    Outcome o = send(transport);
    assertThat(o.kind()).isEqualTo(Outcome.Kind.TRANSIENT);
    assertThat(o.code()).isEqualTo("ErrorServerBusy");
    assertThat(o.retryAfter()).isEqualTo(Duration.ofMillis(297749));
  }

  @Test
  void rejectedTokenIsReplacedAndTheCallRetriedOnce() throws Exception {
    fake.replies.add(Reply.empty(401, Map.of("WWW-Authenticate", "Bearer error=\"invalid_token\"",
        "x-ms-diagnostics", "2000001;reason=\"OAuth token submitted with the request cannot be parsed.\"")));
    Outcome o = send(transport);

    assertThat(o.kind()).isEqualTo(Outcome.Kind.DELIVERED);
    assertThat(fake.requests).extracting(r -> r.headers().get("Authorization"))
        .containsExactly("Bearer t1", "Bearer t2");
    assertThat(tokens.fetches()).isEqualTo(2);
  }

  @Test
  void repeatedTokenRejectionIsConfiguration() throws Exception {
    fake.replies.add(Reply.empty(401, Map.of()));
    fake.replies.add(Reply.empty(401, Map.of()));
    Outcome o = send(transport);
    assertThat(o.kind()).isEqualTo(Outcome.Kind.CONFIGURATION);
    assertThat(o.code()).isEqualTo("HTTP 401");
    assertThat(fake.requests).hasSize(2);
  }

  @Test
  void tokenWithoutPermissionIsConfigurationWithoutRetry() throws Exception {
    fake.replies.add(Reply.empty(401, Map.of("x-ms-diagnostics",
        "2000008;reason=\"The token contains no permissions, or permissions can not be understood.\";"
            + "error_category=\"invalid_grant\"")));
    Outcome o = send(transport);
    assertThat(o.kind()).isEqualTo(Outcome.Kind.CONFIGURATION);
    assertThat(o.detail()).contains("full_access_as_app");
    assertThat(fake.requests).hasSize(1);
  }

  @Test
  void forbiddenNamesThePolicyAndTheAllowList() throws Exception {
    fake.replies.add(Reply.empty(403, Map.of()));
    Outcome o = send(transport);
    assertThat(o.kind()).isEqualTo(Outcome.Kind.CONFIGURATION);
    assertThat(o.detail()).contains("Application Access Policy").contains("EwsAllowedAppIDs");
  }

  @Test
  void serviceUnavailableIsTransient() throws Exception {
    fake.replies.add(Reply.empty(503, Map.of("Retry-After", "30")));
    Outcome o = send(transport);
    assertThat(o.kind()).isEqualTo(Outcome.Kind.TRANSIENT);
    assertThat(o.code()).isEqualTo("HTTP 503");
    assertThat(o.retryAfter()).isEqualTo(Duration.ofSeconds(30));
  }

  @Test
  void tokenFailureKeepsItsKindAndSendsNothing() throws Exception {
    TokenException bad = new TokenException("AADSTS7000215: Invalid client secret provided.", "AADSTS7000215",
        "invalid_client", 401, Outcome.Kind.CONFIGURATION, "the client secret is wrong", null);
    tokens = new TokenCache(() -> CompletableFuture.failedFuture(bad));
    try (EwsTransport t = transport(Settings.Disposition.SEND_AND_SAVE_COPY, caFile)) {
      Outcome o = send(t);
      assertThat(o.kind()).isEqualTo(Outcome.Kind.CONFIGURATION);
      assertThat(o.code()).isEqualTo("AADSTS7000215");
      assertThat(o.detail()).contains("the client secret is wrong");
    }
    assertThat(fake.requests).isEmpty();
  }

  @Test
  void serverCertificateFromAnUntrustedCaIsRefused() throws Exception {
    // ews-java-api alone would accept it (it trusts any self-signed or single-cert chain)
    try (EwsTransport t = transport(Settings.Disposition.SEND_AND_SAVE_COPY, otherCaFile)) {
      Outcome o = send(t);
      assertThat(o.kind()).isEqualTo(Outcome.Kind.CONFIGURATION);
      assertThat(o.code()).isEqualTo("tls");
    }
    assertThat(fake.requests).isEmpty();
  }

  @Test
  void runsOnEwsWorkersAndNeverBlocksTheEventLoop() throws Exception {
    fake.replies.add(Reply.xml(200, FakeEws.SUCCESS).delayed(Duration.ofMillis(700)));
    Promise<Long> returnedAfter = Promise.promise();
    Promise<Outcome> done = Promise.promise();
    vertx.runOnContext(v -> {
      assertThat(Vertx.currentContext().isEventLoopContext()).isTrue();
      long t0 = System.nanoTime();
      Future<Outcome> f = transport.send(submission());
      returnedAfter.complete((System.nanoTime() - t0) / 1_000_000);
      assertThat(f.isComplete()).as("send() must not wait for EWS").isFalse();
      f.onComplete(done);
    });
    assertThat(returnedAfter.future().await(10, TimeUnit.SECONDS)).isLessThan(500);
    assertThat(done.future().await(20, TimeUnit.SECONDS).kind()).isEqualTo(Outcome.Kind.DELIVERED);
    assertThat(fetchThreads).singleElement().asString().startsWith(EwsTransport.POOL + "-");
  }

  @Test
  void workersSendInParallelWithTheirOwnService() throws Exception {
    fake.replies.add(Reply.xml(200, FakeEws.SUCCESS).delayed(Duration.ofMillis(300)));
    fake.replies.add(Reply.xml(200, FakeEws.SUCCESS).delayed(Duration.ofMillis(300)));
    List<Future<Outcome>> all = List.of(transport.send(submission()), transport.send(submission()),
        transport.send(submission()), transport.send(submission()));
    for (Future<Outcome> f : all) {
      assertThat(f.await(20, TimeUnit.SECONDS).kind()).isEqualTo(Outcome.Kind.DELIVERED);
    }
    assertThat(fake.requests).hasSize(4);
    assertThat(tokens.fetches()).isEqualTo(1);
  }
}
