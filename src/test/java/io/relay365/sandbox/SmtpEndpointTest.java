package io.relay365.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sandbox's SMTP submission endpoint in raw transcripts over real TLS: strict where Exchange Online's
 * client submission is (microsoft-wire.md §4, §5), so that a relay passing against it passes against Microsoft.
 */
class SmtpEndpointTest {
  static final String BOX = "scanner@contoso.example";

  @TempDir
  static Path dir;
  static SandboxFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new SandboxFixture(dir);
  }

  @AfterAll
  static void stop() throws Exception {
    f.close();
  }

  @BeforeEach
  void reset() {
    f.sandbox.faults().reset();
  }

  SubmissionDialog dialog() throws Exception {
    return new SubmissionDialog(f.sandbox.smtpHost(), f.sandbox.smtpPort());
  }

  /** Connected, TLS, authenticated as {@code mailbox}. */
  SubmissionDialog authenticated(String mailbox) throws Exception {
    SubmissionDialog d = dialog();
    d.secure(f.tls);
    assertThat(d.xoauth2(mailbox, f.token())).startsWith("235 2.7.0");
    return d;
  }

  static String message(String from, String to, String body) {
    return "From: " + from + "\r\nTo: " + to + "\r\nSubject: test\r\nMessage-ID: <m" + System.nanoTime()
        + "@contoso.example>\r\n\r\n" + body;
  }

  @Test
  void beforeStartTlsNothingButEhloStartTlsNoopAndQuit() throws Exception {
    try (SubmissionDialog d = dialog()) {
      assertThat(d.greeting).startsWith("220 ").contains("Microsoft ESMTP MAIL Service ready");
      String ehlo = d.expect("250", "EHLO client.example");
      assertThat(ehlo).contains("250-STARTTLS").contains("SIZE 36700160").contains("ENHANCEDSTATUSCODES")
          .doesNotContain("AUTH");
      assertThat(d.command("AUTH XOAUTH2 " + "x".repeat(20))).startsWith("530 5.7.0 Must issue a STARTTLS command first");
      assertThat(d.command("AUTH LOGIN")).startsWith("530 5.7.0");
      assertThat(d.command("MAIL FROM:<" + BOX + ">")).startsWith("530 5.7.0");
      assertThat(d.command("RCPT TO:<a@example.com>")).startsWith("530 5.7.0");
      assertThat(d.command("DATA")).startsWith("530 5.7.0");
      d.expect("250", "NOOP");
      d.expect("221", "QUIT");
    }
  }

  @Test
  void afterTlsEhloAgainOffersXoauth2AndNoStartTlsAndMailNeedsAuth() throws Exception {
    try (SubmissionDialog d = dialog()) {
      d.expect("250", "EHLO client.example");
      d.startTls(f.tls);
      assertThat(d.command("MAIL FROM:<" + BOX + ">")).as("RFC 3207: EHLO again after TLS").startsWith("503");
      String ehlo = d.expect("250", "EHLO client.example");
      assertThat(ehlo).contains("AUTH LOGIN XOAUTH2").doesNotContain("STARTTLS");
      assertThat(d.command("MAIL FROM:<" + BOX + ">")).startsWith("530 5.7.57");
      assertThat(d.command("STARTTLS")).startsWith("503");
    }
  }

  @Test
  void commandsInjectedBeforeTheTlsHandshakeAreDiscarded() throws Exception {
    try (SubmissionDialog d = dialog()) {
      d.expect("250", "EHLO client.example");
      // a man in the middle appends a command to STARTTLS (RFC 3207 §6, CVE-2011-0411)
      d.send("STARTTLS\r\nNOOP\r\n");
      assertThat(d.reply()).startsWith("220");
      d.upgrade(f.tls);
      // the first reply inside TLS answers our EHLO, not the injected NOOP
      assertThat(d.command("EHLO client.example")).startsWith("250-" + SmtpEndpoint.HOST_NAME);
    }
  }

  @Test
  void aTokenThatIsNotAValidExchangeTokenWithSmtpSendAsAppIsRefused() throws Exception {
    JsonObject good = f.validClaims().put("aud", f.sandbox.ewsOrigin())
        .put("roles", new JsonArray().add("SMTP.SendAsApp"));
    long now = Instant.now().getEpochSecond();
    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
    g.initialize(2048);
    List<String> bad = List.of(
        f.token("https://graph.microsoft.com/.default"),                                  // a Graph token
        f.craftToken(good.copy().put("roles", new JsonArray().add("full_access_as_app")), f.sandboxTokenKey()),
        f.craftToken(good.copy().put("exp", now - 10), f.sandboxTokenKey()),               // expired
        f.craftToken(good.copy().put("tid", "00000000-0000-0000-0000-000000000000"), f.sandboxTokenKey()),
        f.craftToken(good, g.generateKeyPair().getPrivate()),                              // not signed by Entra
        "not.a.token");
    try (SubmissionDialog d = dialog()) {
      d.secure(f.tls);
      for (String token : bad) {
        assertThat(d.xoauth2(BOX, token)).startsWith("535 5.7.3 Authentication unsuccessful [");
      }
      assertThat(d.xoauth2(BOX, f.craftToken(good, f.sandboxTokenKey()))).startsWith("235 2.7.0");
      assertThat(d.xoauth2(BOX, f.token())).as("once is enough").startsWith("503");
    }
  }

  @Test
  void consentWithoutSmtpSendAsAppIsRefused() throws Exception {
    f.sandbox.faults().rolesInToken(List.of("full_access_as_app"));
    try (SubmissionDialog d = dialog()) {
      d.secure(f.tls);
      assertThat(d.xoauth2(BOX, f.token())).startsWith("535 5.7.3");
    }
  }

  @Test
  void mailboxWithoutPermissionOrSmtpAuthIsRefused() throws Exception {
    f.sandbox.faults().denyMailbox("denied@contoso.example").unknownMailbox("nobody@contoso.example");
    f.sandbox.faults().smtp().authDisabledFor("off@contoso.example");
    try (SubmissionDialog d = dialog()) {
      d.secure(f.tls);
      String token = f.token();
      assertThat(d.xoauth2("denied@contoso.example", token)).startsWith("535 5.7.3");
      assertThat(d.xoauth2("nobody@contoso.example", token)).startsWith("535 5.7.3");
      assertThat(d.xoauth2("off@contoso.example", token))
          .startsWith("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox");
      f.sandbox.faults().smtp().authDisabled(true);
      assertThat(d.xoauth2(BOX, token)).contains("5.7.139").contains("disabled for the Tenant");
    }
  }

  @Test
  void basicAuthenticationIsDisabled() throws Exception {
    try (SubmissionDialog d = dialog()) {
      d.secure(f.tls);
      assertThat(d.command("AUTH LOGIN")).startsWith("334 VXNlcm5hbWU6");
      assertThat(d.command("c2Nhbm5lcg==")).startsWith("334 UGFzc3dvcmQ6");
      assertThat(d.command("c2VjcmV0")).startsWith("535 5.7.139 Authentication unsuccessful, basic authentication is"
          + " disabled.");
      assertThat(d.command("AUTH PLAIN AHNjYW5uZXIAc2VjcmV0")).startsWith("504 5.7.4");
    }
  }

  @Test
  void anAcceptedMessageIsStoredWithItsWholeEnvelopeAndDotsUnstuffed() throws Exception {
    int before = f.sandbox.received().size();
    String msg = message(BOX, "alice@contoso.example", ".leading dot\r\n..two\r\nend\r\n");
    try (SubmissionDialog d = authenticated(BOX)) {
      // PIPELINING: the envelope in one write, the replies in order
      d.send("MAIL FROM:<" + BOX + "> SIZE=" + msg.length() + " BODY=8BITMIME\r\nRCPT TO:<alice@contoso.example>\r\n"
          + "RCPT TO:<hidden@partner.example>\r\nDATA\r\n");
      assertThat(d.reply()).startsWith("250 2.1.0");
      assertThat(d.reply()).startsWith("250 2.1.5");
      assertThat(d.reply()).startsWith("250 2.1.5");
      assertThat(d.reply()).startsWith("354");
      d.send(msg.replace("\r\n.", "\r\n..") + ".\r\n");
      assertThat(d.reply()).startsWith("250 2.0.0 OK <m");
      d.expect("250", "RSET");
    }
    ReceivedMessage r = f.sandbox.received().get(before);
    assertThat(r.transport()).isEqualTo("smtp");
    assertThat(r.mailbox()).isEqualTo(BOX);
    assertThat(r.envelopeSender()).isEqualTo(BOX);
    assertThat(r.envelopeRecipients()).containsExactly("alice@contoso.example", "hidden@partner.example");
    assertThat(r.bccRecipients()).containsExactly("hidden@partner.example");
    assertThat(r.tokenId()).isNotBlank();
    assertThat(new String(r.mime(), StandardCharsets.UTF_8)).isEqualTo(msg);
    assertThat(Files.readAllBytes(r.emlFile())).isEqualTo(msg.getBytes(StandardCharsets.UTF_8));
    JsonObject json = new JsonObject(Files.readString(Path.of(r.emlFile().toString().replace(".eml", ".json"))));
    assertThat(json.getString("transport")).isEqualTo("smtp");
    assertThat(json.getString("mailFrom")).isEqualTo(BOX);
    assertThat(json.getJsonArray("rcptTo")).containsExactly("alice@contoso.example", "hidden@partner.example");
    // and it survives a reload of the mail store
    assertThat(new MailStore(f.sandbox.mailDir()).received().get(before).envelopeRecipients())
        .containsExactly("alice@contoso.example", "hidden@partner.example");
  }

  /** One transaction after AUTH; returns the reply to the end of the message. */
  static String submit(SubmissionDialog d, String mailFrom, String data, String... rcpts) throws Exception {
    d.expect("250", "MAIL FROM:<" + mailFrom + ">");
    for (String r : rcpts) {
      d.expect("250", "RCPT TO:<" + r + ">");
    }
    d.expect("354", "DATA");
    d.send(data + ".\r\n");
    return d.reply();
  }

  @Test
  void sendingAsAnotherAddressIsDeniedAfterTheDataUnlessGranted() throws Exception {
    try (SubmissionDialog d = authenticated(BOX)) {
      assertThat(submit(d, "ceo@contoso.example", message("ceo@contoso.example", "a@example.com", "x\r\n"),
          "a@example.com")).startsWith("554 5.2.252 SendAsDenied; " + BOX + " not allowed to send as ceo@contoso.example");
      d.expect("250", "RSET");
      assertThat(submit(d, BOX, message("\"Boss\" <ceo@contoso.example>", "a@example.com", "x\r\n"), "a@example.com"))
          .as("the From: header counts too").startsWith("554 5.2.252");
      f.sandbox.faults().smtp().grantSendAs(BOX, "ceo@contoso.example");
      assertThat(submit(d, BOX, message("\"Boss\" <ceo@contoso.example>", "a@example.com", "x\r\n"), "a@example.com"))
          .startsWith("250 2.0.0");
    }
  }

  @Test
  void moreThanTheRatePerMinuteIsRejectedNotQueued() throws Exception {
    f.sandbox.faults().smtp().submissionRate(2, Duration.ofMinutes(1));
    String box = "rate@contoso.example";
    try (SubmissionDialog d = authenticated(box)) {
      assertThat(submit(d, box, message(box, "a@example.com", "1\r\n"), "a@example.com")).startsWith("250");
      assertThat(submit(d, box, message(box, "a@example.com", "2\r\n"), "a@example.com")).startsWith("250");
      assertThat(submit(d, box, message(box, "a@example.com", "3\r\n"), "a@example.com"))
          .startsWith("554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException");
    }
    String other = "other-rate@contoso.example";
    try (SubmissionDialog d = authenticated(other)) {
      assertThat(submit(d, other, message(other, "a@example.com", "other\r\n"), "a@example.com"))
          .as("per mailbox").startsWith("250");
    }
  }

  @Test
  void sizeIsAdvertisedAndEnforcedAtMailAndAfterTheData() throws Exception {
    f.sandbox.faults().maxMessageSize(1000);
    try (SubmissionDialog d = authenticated(BOX)) {
      assertThat(d.command("EHLO client.example")).contains("SIZE 1000");
      // EHLO resets the session state but not the authentication
      assertThat(d.command("MAIL FROM:<" + BOX + "> SIZE=1001")).startsWith("552 5.3.4");
      assertThat(submit(d, BOX, message(BOX, "a@example.com", "x".repeat(2000) + "\r\n"), "a@example.com"))
          .startsWith("552 5.3.4");
      assertThat(submit(d, BOX, message(BOX, "a@example.com", "small\r\n"), "a@example.com"))
          .as("the session goes on").startsWith("250 2.0.0");
    }
  }

  @Test
  void injectedRepliesAtEachStage() throws Exception {
    SmtpFaults smtp = f.sandbox.faults().smtp();
    smtp.reply(SmtpFaults.Stage.RCPT, "550 5.1.1 User unknown", 1).reply(SmtpFaults.Stage.DOT,
        "451 4.7.500 Server busy. Please try again later.", 1);
    try (SubmissionDialog d = authenticated(BOX)) {
      d.expect("250", "MAIL FROM:<" + BOX + ">");
      assertThat(d.command("RCPT TO:<typo@example.com>")).startsWith("550 5.1.1");
      d.expect("250", "RCPT TO:<a@example.com>");
      d.expect("354", "DATA");
      d.send(message(BOX, "a@example.com", "x\r\n") + ".\r\n");
      assertThat(d.reply()).startsWith("451 4.7.500");
      assertThat(submit(d, BOX, message(BOX, "a@example.com", "x\r\n"), "a@example.com")).startsWith("250");
    }
    smtp.reply(SmtpFaults.Stage.CONNECT, "421 4.3.2 Service not available", 1);
    try (SubmissionDialog d = dialog()) {
      assertThat(d.greeting).startsWith("421 4.3.2");
      assertThat(d.closedByServer()).isTrue();
    }
    smtp.reply(SmtpFaults.Stage.DOT, SmtpFaults.DROP, 1);
    try (SubmissionDialog d = authenticated(BOX)) {
      int before = f.sandbox.received().size();
      assertThat(submit(d, BOX, message(BOX, "a@example.com", "x\r\n"), "a@example.com")).as("no reply").isEmpty();
      assertThat(f.sandbox.received()).hasSize(before);
    }
  }

  @Test
  void tooManySubmissionsOfOneMailboxAtOnceHitTheSenderThreadLimit() throws Exception {
    f.sandbox.faults().smtp().maxConcurrentPerMailbox(1).latency(Duration.ofMillis(600));
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      Callable<String> one = () -> {
        try (SubmissionDialog d = authenticated(BOX)) {
          return submit(d, BOX, message(BOX, "a@example.com", "x\r\n"), "a@example.com");
        }
      };
      Future<String> a = pool.submit(one);
      Future<String> b = pool.submit(one);
      List<String> replies = List.of(a.get(), b.get());
      assertThat(replies).anyMatch(r -> r.startsWith("250"))
          .anyMatch(r -> r.startsWith("432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded"));
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void faultsAndStatsOverTheControlEndpoint() throws Exception {
    HttpResponse<String> set = f.http.send(HttpRequest.newBuilder(URI.create(f.sandbox.loginUrl() + "/_sandbox/faults"))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
            "{\"smtp\":{\"authDisabled\":true,\"reply\":{\"stage\":\"mail\",\"reply\":\"451 4.3.0 x\",\"count\":2}}}"))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertThat(set.statusCode()).isEqualTo(200);
    JsonObject smtp = new JsonObject(set.body()).getJsonObject("smtp");
    assertThat(smtp.getBoolean("authDisabled")).isTrue();
    assertThat(smtp.getJsonArray("replies").getJsonObject(0).getInteger("count")).isEqualTo(2);
    try (SubmissionDialog d = dialog()) {
      d.secure(f.tls);
      assertThat(d.xoauth2(BOX, f.token())).contains("5.7.139");
    }
    JsonObject stats = new JsonObject(f.http.send(HttpRequest.newBuilder(URI.create(f.sandbox.loginUrl()
        + "/_sandbox/stats")).build(), HttpResponse.BodyHandlers.ofString()).body());
    assertThat(stats.getInteger("smtpSessions")).isEqualTo(f.sandbox.smtpSessions()).isPositive();
    assertThat(stats.getInteger("smtpMessages")).isEqualTo(f.sandbox.smtpMessages());
  }

  @Test
  void theRelayFragmentPointsAtTheSubmissionEndpoint() throws Exception {
    String yaml = Files.readString(f.sandbox.writeRelayConfig());
    assertThat(yaml).contains("smtp-oauth:\n  server: \"" + f.sandbox.smtpServer() + "\"")
        .contains("delivery.transport: smtp-oauth");
    assertThat(f.sandbox.smtpServer()).isEqualTo("127.0.0.1:" + f.sandbox.smtpPort());
  }
}
