package io.relay365;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.core.OutputStreamAppender;
import io.relay365.cli.DoctorCommand;
import io.relay365.config.SettingsLoader;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/**
 * A full run with every logger at DEBUG (ews-java-api, httpclient, msal4j, Vert.x, ours): start, deliver,
 * a deferral, the admin listener, doctor. Neither the bearer token, nor the client secret, nor the admin
 * token may appear anywhere in what was logged or printed.
 */
class NoSecretsInLogsTest {
  static final String ADMIN_TOKEN = "admin-token-that-must-never-be-logged-42";
  static final List<String> NOISY = List.of("ROOT", "com.microsoft.aad.msal4j", "microsoft.exchange", "org.apache.http",
      "org.apache.http.wire", "org.apache.http.headers", "org.subethamail", "io.netty", "io.vertx", "relay365.mail",
      "io.relay365");

  @TempDir
  Path dir;
  RelayHarness h;
  final ByteArrayOutputStream captured = new ByteArrayOutputStream();
  OutputStreamAppender<ch.qos.logback.classic.spi.ILoggingEvent> appender;
  final Map<String, Level> saved = new HashMap<>();

  @BeforeEach
  void everythingAtDebug() {
    LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
    PatternLayoutEncoder enc = new PatternLayoutEncoder();
    enc.setContext(ctx);
    enc.setPattern("%level %logger %msg%n%ex");
    enc.start();
    appender = new OutputStreamAppender<>();
    appender.setContext(ctx);
    appender.setEncoder(enc);
    appender.setOutputStream(captured);
    appender.start();
    for (String name : NOISY) {
      Logger l = ctx.getLogger(name);
      saved.put(name, l.getLevel());
      l.setLevel(Level.DEBUG);
      l.addAppender(appender); // relay365.mail is not additive: attach to it too (duplicates do not matter)
    }
  }

  @AfterEach
  void restore() throws Exception {
    if (h != null) {
      h.close();
    }
    LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
    for (String name : NOISY) {
      Logger l = ctx.getLogger(name);
      l.detachAppender(appender);
      l.setLevel(saved.get(name));
    }
    appender.stop();
  }

  @Test
  void aFullRunAtDebugLogsNoTokenAndNoSecret() throws Exception {
    h = new RelayHarness(dir);
    h.env.put("RELAY365_ADMIN_TOKEN", ADMIN_TOKEN);
    h.startSandbox().startRelay();
    // what `serve` logs at start
    LoggerFactory.getLogger("io.relay365.cli.ServeCommand").info("relay365 starting with configuration:\n{}",
        SettingsLoader.describe(h.settings()));

    String ok;
    String deferred;
    try (SmtpDialog smtp = new SmtpDialog(h.smtpPort())) {
      smtp.expect("250", "EHLO test.example");
      ok = smtp.send("scanner@contoso.example", new String[] {"alice@contoso.example", "hidden@contoso.example"},
          "From: scanner@contoso.example\r\nTo: alice@contoso.example\r\nSubject: s\r\n\r\nbody\r\n".getBytes(
              StandardCharsets.US_ASCII));
      h.sandbox.faults().ewsHttpStatus(401, 1); // a rejected token: the transport drops it and fetches another
      smtp.command("RSET");
      deferred = smtp.send("copier@contoso.example", new String[] {"bob@contoso.example"},
          "From: copier@contoso.example\r\nTo: bob@contoso.example\r\nSubject: t\r\n\r\nbody\r\n".getBytes(
              StandardCharsets.US_ASCII));
    }
    await().atMost(Duration.ofSeconds(30)).until(() -> h.relay.spool().size() == 0);
    String bearer = h.relay.tokens().token().get(10, TimeUnit.SECONDS);

    HttpClient http = HttpClient.newHttpClient();
    for (String path : new String[] {"/metrics", "/status", "/api/messages/" + ok, "/health/ready"}) {
      http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + h.relay.adminPort() + path))
          .header("Authorization", "Bearer " + ADMIN_TOKEN).build(), HttpResponse.BodyHandlers.ofString());
    }
    ByteArrayOutputStream doctorOut = new ByteArrayOutputStream();
    DoctorCommand doctor = new DoctorCommand();
    Map<String, String> env = new HashMap<>(h.env);
    java.lang.reflect.Field f = DoctorCommand.class.getDeclaredField("environment");
    f.setAccessible(true);
    f.set(doctor, env);
    java.lang.reflect.Field o = DoctorCommand.class.getDeclaredField("out");
    o.setAccessible(true);
    o.set(doctor, new PrintStream(doctorOut, true, StandardCharsets.UTF_8));
    int exit = new CommandLine(doctor).execute("--config", dir.resolve("sandbox/relay-fragment.yaml").toString(),
        "--mailbox", "scanner@contoso.example", "--json");
    assertThat(exit).as(doctorOut.toString(StandardCharsets.UTF_8)).isZero();

    String logs = captured.toString(StandardCharsets.UTF_8) + doctorOut.toString(StandardCharsets.UTF_8);
    // the run really happened, with DEBUG output from the libraries
    assertThat(logs).contains("delivered id=" + ok).contains("delivered id=" + deferred)
        .contains("DEBUG").contains("microsoft.client-secret = ********").contains("admin.token = ********");
    String secret = h.sandbox.clientSecret();
    assertThat(bearer).hasSizeGreaterThan(100);
    assertThat(logs).doesNotContain(bearer)
        .doesNotContain(bearer.substring(bearer.lastIndexOf('.') + 1)) // the signature alone
        .doesNotContain(secret)
        .doesNotContain(ADMIN_TOKEN)
        .doesNotContainIgnoringCase("Authorization: Bearer ey");
  }

  @Test
  void smtpSubmissionWithItsProtocolTraceOnLogsNoToken() throws Exception {
    // angus-mail logs through java.util.logging, under its own package and under the package of the
    // subclass (io.relay365.deliver); at FINEST it traces the whole SMTP dialogue
    java.util.logging.Handler jul = new java.util.logging.StreamHandler(captured, new java.util.logging.SimpleFormatter());
    jul.setLevel(java.util.logging.Level.ALL);
    List<java.util.logging.Logger> traced = List.of(java.util.logging.Logger.getLogger("org.eclipse.angus"),
        java.util.logging.Logger.getLogger("io.relay365.deliver"));
    for (java.util.logging.Logger l : traced) {
      l.setLevel(java.util.logging.Level.ALL);
      l.addHandler(jul);
    }
    try {
      h = new RelayHarness(dir);
      h.env.put("RELAY365_DELIVERY_TRANSPORT", "smtp-oauth");
      h.startSandbox().startRelay();
      // the first AUTH is refused: the transport drops the token and authenticates with a fresh one
      h.sandbox.faults().smtp().reply(io.relay365.sandbox.SmtpFaults.Stage.AUTH,
          "535 5.7.3 Authentication unsuccessful", 1);
      String id;
      try (SmtpDialog smtp = new SmtpDialog(h.smtpPort())) {
        smtp.expect("250", "EHLO test.example");
        id = smtp.send("scanner@contoso.example", new String[] {"alice@contoso.example"},
            "From: scanner@contoso.example\r\nTo: alice@contoso.example\r\nSubject: s\r\n\r\nbody\r\n".getBytes(
                StandardCharsets.US_ASCII));
      }
      await().atMost(Duration.ofSeconds(30)).until(() -> h.relay.spool().size() == 0);
      String bearer = h.relay.tokens().token().get(10, TimeUnit.SECONDS);
      h.close();
      h = null;
      jul.flush();
      String logs = captured.toString(StandardCharsets.UTF_8);
      // the trace ran (angus suppresses the AUTH exchange itself: mail.debug.auth stays false)
      assertThat(logs).contains("delivered id=" + id).contains("MAIL FROM:<scanner@contoso.example>")
          .contains("AUTH XOAUTH2 command trace suppressed");
      String xoauth2 = java.util.Base64.getEncoder().encodeToString(("user=scanner@contoso.example\u0001auth=Bearer "
          + bearer + "\u0001\u0001").getBytes(StandardCharsets.UTF_8));
      assertThat(bearer).hasSizeGreaterThan(100);
      assertThat(logs).doesNotContain(bearer).doesNotContain(bearer.substring(bearer.lastIndexOf('.') + 1))
          .doesNotContain(xoauth2.substring(40, 120)) // the token inside the base64 AUTH XOAUTH2 argument
          .doesNotContain("auth=Bearer ey").doesNotContain("AUTH XOAUTH2 dXNlcj1"); // "user=" in base64
    } finally {
      for (java.util.logging.Logger l : traced) {
        l.removeHandler(jul);
        l.setLevel(null);
      }
    }
  }
}
