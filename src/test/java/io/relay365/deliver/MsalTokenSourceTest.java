package io.relay365.deliver;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.relay365.config.Settings;
import io.relay365.tls.CertificateAuthority;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.net.PemKeyCertOptions;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.Signature;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

class MsalTokenSourceTest {
  private static final String TENANT = "contoso.onmicrosoft.com";
  private static final String CLIENT = "535fb089-9ff3-47b6-9bfb-4f1264799865";
  private static final String SECRET = "Zx8Q~very-secret-value";
  private static final String SCOPE = "https://outlook.office365.com/.default";
  private static final String TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.test-access-token";

  record Req(String method, String path, Map<String, String> form) {}

  record Reply(int status, String json) {}

  private static Vertx vertx;
  private static HttpServer server;
  private static CertificateAuthority ca;
  private static CertificateAuthority.Issued client;
  private static final List<Req> requests = new CopyOnWriteArrayList<>();
  private static final ConcurrentLinkedQueue<Reply> replies = new ConcurrentLinkedQueue<>();
  @TempDir
  static Path dir;
  private static Path caFile;
  private static Path otherCaFile;

  private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  private MsalTokenSource source;

  @BeforeAll
  static void start() throws Exception {
    vertx = Vertx.vertx();
    ca = CertificateAuthority.generate("relay365 test CA", Duration.ofDays(1));
    caFile = dir.resolve("ca.pem");
    ca.writeCertificate(caFile);
    otherCaFile = dir.resolve("other.pem");
    CertificateAuthority.generate("other", Duration.ofDays(1)).writeCertificate(otherCaFile);
    client = ca.issueClient("relay365 app", Instant.now().minus(Duration.ofHours(1)), Duration.ofDays(1));
    CertificateAuthority.Issued cert = ca.issueServer(List.of("localhost"), List.of("127.0.0.1"), Duration.ofDays(1));
    server = vertx.createHttpServer(new HttpServerOptions().setSsl(true).setKeyCertOptions(new PemKeyCertOptions()
        .setCertValue(Buffer.buffer(cert.certificatePem())).setKeyValue(Buffer.buffer(cert.keyPem()))));
    server.requestHandler(req -> req.body().onSuccess(body -> {
      requests.add(new Req(req.method().name(), req.path(), form(body.toString())));
      Reply r = replies.poll();
      if (r == null) {
        r = new Reply(200, "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"ext_expires_in\":3599,"
            + "\"access_token\":\"" + TOKEN + "\"}");
      }
      if (r.status() == 0) {
        return; // never answer
      }
      req.response().setStatusCode(r.status()).putHeader("Content-Type", "application/json; charset=utf-8")
          .end(r.json());
    }));
    server.listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS);
  }

  @AfterAll
  static void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @BeforeEach
  void clear() {
    requests.clear();
    replies.clear();
    logs.start();
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logs);
  }

  @AfterEach
  void close() {
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
    if (source != null) {
      source.close();
    }
    // nothing msal (or we) logged may carry the secret or the token
    for (ILoggingEvent e : logs.list) {
      assertThat(e.getFormattedMessage()).doesNotContain(SECRET).doesNotContain(TOKEN);
    }
  }

  private static Map<String, String> form(String body) {
    Map<String, String> m = new HashMap<>();
    for (String pair : body.split("&")) {
      int eq = pair.indexOf('=');
      if (eq > 0) {
        m.put(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
            URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
      }
    }
    return m;
  }

  private static Settings.Microsoft settings(Settings.Secret secret, Settings.Certificate cert, Path trust,
      Duration timeout) {
    return new Settings.Microsoft(TENANT, CLIENT, secret, cert, "https://localhost:" + server.actualPort(), trust,
        SCOPE, timeout);
  }

  private static Settings.Microsoft secret() {
    return settings(new Settings.Secret(SECRET), null, caFile, Duration.ofSeconds(10));
  }

  private static TokenException failure(MsalTokenSource s) {
    try {
      s.fetch().join();
    } catch (CompletionException e) {
      assertThat(e.getCause()).isInstanceOf(TokenException.class);
      return (TokenException) e.getCause();
    }
    throw new AssertionError("expected a failure");
  }

  @Test
  void secretGrantPostsClientCredentialsAndTheScopeWithoutDiscovery() throws Exception {
    source = new MsalTokenSource(secret());
    TokenSource.AccessToken t = source.fetch().get(20, TimeUnit.SECONDS);

    assertThat(t.value()).isEqualTo(TOKEN);
    assertThat(t.expiresOn()).isBetween(Instant.now().plusSeconds(3500), Instant.now().plusSeconds(3600));
    assertThat(requests).as("only the token POST: no instance discovery GET").singleElement().satisfies(r -> {
      assertThat(r.method()).isEqualTo("POST");
      assertThat(r.path()).isEqualTo("/" + TENANT + "/oauth2/v2.0/token");
      assertThat(r.form()).containsEntry("grant_type", "client_credentials").containsEntry("client_secret", SECRET);
      assertThat(r.form().get("scope").split(" ")).contains(SCOPE);
    });

    // skipCache: every fetch goes to the endpoint (TokenCache owns caching)
    source.fetch().get(20, TimeUnit.SECONDS);
    assertThat(requests).hasSize(2);
  }

  @Test
  void wrongSecretIsConfigurationWithAHint() throws Exception {
    replies.add(new Reply(401, "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid client"
        + " secret provided. Ensure the secret being sent in the request is the client secret value, not the client"
        + " secret ID.\\r\\nTrace ID: 1\\r\\nCorrelation ID: 2\\r\\nTimestamp: 2026-01-01 00:00:00Z\","
        + "\"error_codes\":[7000215]}"));
    source = new MsalTokenSource(secret());
    TokenException e = failure(source);

    assertThat(e.kind()).isEqualTo(Outcome.Kind.CONFIGURATION);
    assertThat(e.aadsts()).isEqualTo("AADSTS7000215");
    assertThat(e.error()).isEqualTo("invalid_client");
    assertThat(e.httpStatus()).isEqualTo(401);
    assertThat(e.hint()).contains("Value, not its ID").contains("microsoft.client-secret");
    assertThat(e.toOutcome().toString()).doesNotContain(SECRET).doesNotContain("\n");
    assertThat(requests).hasSize(1);
  }

  @Test
  void unknownTenantIsConfiguration() throws Exception {
    replies.add(new Reply(400, "{\"error\":\"invalid_request\",\"error_description\":\"AADSTS90002: Tenant"
        + " 'x' not found.\",\"error_codes\":[90002]}"));
    source = new MsalTokenSource(secret());
    TokenException e = failure(source);
    assertThat(e.kind()).isEqualTo(Outcome.Kind.CONFIGURATION);
    assertThat(e.code()).isEqualTo("AADSTS90002");
    assertThat(e.hint()).contains("microsoft.tenant-id");
  }

  @Test
  void serviceUnavailableIsTransient() throws Exception {
    replies.add(new Reply(503, "{\"error\":\"temporarily_unavailable\",\"error_description\":\"AADSTS90033: busy\"}"));
    source = new MsalTokenSource(secret());
    TokenException e = failure(source);
    assertThat(e.kind()).isEqualTo(Outcome.Kind.TRANSIENT);
    assertThat(e.httpStatus()).isEqualTo(503);
    assertThat(requests).as("no hidden msal retry; TokenCache owns retries").hasSize(1);
  }

  @Test
  void untrustedServerCertificateFails() throws Exception {
    source = new MsalTokenSource(settings(new Settings.Secret(SECRET), null, otherCaFile, Duration.ofSeconds(10)));
    TokenException e = failure(source);
    assertThat(e.kind()).isEqualTo(Outcome.Kind.CONFIGURATION);
    assertThat(e.code()).isEqualTo("tls");
    assertThat(requests).isEmpty();
  }

  @Test
  void silentEndpointTimesOut() throws Exception {
    replies.add(new Reply(0, null));
    source = new MsalTokenSource(settings(new Settings.Secret(SECRET), null, caFile, Duration.ofSeconds(1)));
    TokenException e = failure(source);
    assertThat(e.kind()).isEqualTo(Outcome.Kind.TRANSIENT);
    assertThat(e.code()).isEqualTo("timeout");
  }

  @Test
  void pemCertificateAndSeparateKey() throws Exception {
    Path cert = Files.writeString(dir.resolve("app.crt"), client.certificatePem());
    Path key = Files.writeString(dir.resolve("app.key"), client.keyPem());
    assertClientAssertion(new Settings.Certificate(cert, key, null));
  }

  @Test
  void pemCertificateAndKeyInOneFile() throws Exception {
    Path both = Files.writeString(dir.resolve("app.pem"), client.certificatePem() + client.keyPem());
    assertClientAssertion(new Settings.Certificate(both, null, null));
  }

  @Test
  void pkcs12Certificate() throws Exception {
    char[] pw = "changeit".toCharArray();
    KeyStore ks = client.pkcs12(pw);
    Path p12 = dir.resolve("app.p12");
    try (OutputStream out = Files.newOutputStream(p12)) {
      ks.store(out, pw);
    }
    assertClientAssertion(new Settings.Certificate(p12, null, new Settings.Secret("changeit")));
  }

  private void assertClientAssertion(Settings.Certificate cert) throws Exception {
    source = new MsalTokenSource(settings(null, cert, caFile, Duration.ofSeconds(10)));
    assertThat(source.fetch().get(20, TimeUnit.SECONDS).value()).isEqualTo(TOKEN);

    Map<String, String> form = requests.get(0).form();
    assertThat(form).doesNotContainKey("client_secret")
        .containsEntry("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    String[] jws = form.get("client_assertion").split("\\.");
    String claims = new String(Base64.getUrlDecoder().decode(jws[1]), StandardCharsets.UTF_8);
    assertThat(claims).contains("\"iss\":\"" + CLIENT + "\"").contains("\"sub\":\"" + CLIENT + "\"")
        .contains("/" + TENANT + "/oauth2/v2.0/token");
    Signature rs256 = Signature.getInstance("SHA256withRSA");
    rs256.initVerify(client.certificate().getPublicKey());
    rs256.update((jws[0] + "." + jws[1]).getBytes(StandardCharsets.US_ASCII));
    assertThat(rs256.verify(Base64.getUrlDecoder().decode(jws[2]))).as("signed with the configured key").isTrue();
  }

  @Test
  void classifiesAadstsCodesFromMessages() {
    assertThat(MsalTokenSource.aadsts("AADSTS700016: Application with identifier 'x' was not found"))
        .isEqualTo("AADSTS700016");
    assertThat(MsalTokenSource.aadsts("no code here")).isNull();
    assertThat(MsalTokenSource.HINTS).containsKeys("7000215", "7000222", "700016", "90002", "900023", "70011",
        "1002012", "500011", "700027", "700024", "7000218", "50049");
  }
}
