package io.relay365.sandbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.microsoft.aad.msal4j.ClientCredentialFactory;
import com.microsoft.aad.msal4j.ClientCredentialParameters;
import com.microsoft.aad.msal4j.ConfidentialClientApplication;
import com.microsoft.aad.msal4j.IAuthenticationResult;
import com.microsoft.aad.msal4j.IClientCredential;
import com.microsoft.aad.msal4j.MsalServiceException;
import io.relay365.tls.CertificateAuthority;
import io.relay365.tls.Pem;
import io.vertx.core.json.JsonObject;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The Entra token endpoint against the real msal4j 1.26.1 client, plus raw requests for shapes msal cannot send. */
class TokenEndpointTest {
  @TempDir
  static Path dir;
  static SandboxFixture f;
  static ExecutorService msalPool;

  @BeforeAll
  static void start() throws Exception {
    f = new SandboxFixture(dir);
    msalPool = Executors.newFixedThreadPool(2);
  }

  @AfterAll
  static void stop() throws Exception {
    f.close();
    msalPool.shutdownNow();
  }

  @BeforeEach
  void reset() {
    f.sandbox.faults().reset();
  }

  private ConfidentialClientApplication msal(String clientId, IClientCredential cred, String tenant) throws Exception {
    return ConfidentialClientApplication.builder(clientId, cred)
        .authority(f.sandbox.loginUrl() + "/" + tenant + "/")
        .instanceDiscovery(false)
        .sslSocketFactory(f.tls.getSocketFactory())
        .executorService(msalPool)
        .connectTimeoutForDefaultHttpClient(5_000).readTimeoutForDefaultHttpClient(10_000)
        .build();
  }

  private IAuthenticationResult acquire(ConfidentialClientApplication app, String scope) throws Exception {
    return app.acquireToken(ClientCredentialParameters.builder(Set.of(scope)).skipCache(true).build())
        .get(30, TimeUnit.SECONDS);
  }

  private MsalServiceException msalFailure(ConfidentialClientApplication app, String scope) {
    Throwable t = org.assertj.core.api.Assertions.catchThrowable(() -> acquire(app, scope));
    assertThat(t).isInstanceOf(ExecutionException.class).hasCauseInstanceOf(MsalServiceException.class);
    return (MsalServiceException) t.getCause();
  }

  private static JsonObject claims(String jwt) {
    return new JsonObject(new String(Base64.getUrlDecoder().decode(jwt.split("\\.")[1]), StandardCharsets.UTF_8));
  }

  @Test
  void msalWithSecretGetsSignedTokenForTheSandboxScopeWithoutInstanceDiscovery() throws Exception {
    int before = f.sandbox.tokenRequests();
    IAuthenticationResult r = acquire(msal(f.sandbox.clientId(),
        ClientCredentialFactory.createFromSecret(f.sandbox.clientSecret()), f.sandbox.tenantId()), f.sandbox.scope());

    JsonObject c = claims(r.accessToken());
    assertThat(c.getString("aud")).isEqualTo(f.sandbox.loginUrl());
    assertThat(c.getString("iss")).isEqualTo("https://sts.windows.net/" + f.sandbox.tenantId() + "/");
    assertThat(c.getString("tid")).isEqualTo(f.sandbox.tenantId());
    assertThat(c.getString("appid")).isEqualTo(f.sandbox.clientId());
    assertThat(c.getJsonArray("roles")).containsExactly("full_access_as_app", "SMTP.SendAsApp");
    assertThat(c.getString("jti")).isNotBlank();
    assertThat(c.getLong("exp") - Instant.now().getEpochSecond()).isBetween(3500L, 3600L);
    assertThat(Jwt.parse(r.accessToken()).verifiesWith(f.sandbox.pki().tokenKeys.getPublic())).isTrue();
    assertThat(f.sandbox.tokenRequests()).isEqualTo(before + 1);
    assertThat(f.sandbox.discoveryRequests()).isZero();
  }

  @Test
  void msalWithTheRegisteredCertificateGetsAToken() throws Exception {
    IClientCredential cred;
    try (InputStream in = Files.newInputStream(f.sandbox.clientPkcs12())) {
      cred = ClientCredentialFactory.createFromCertificate(in, f.sandbox.clientPkcs12Password());
    }
    IAuthenticationResult r = acquire(msal(f.sandbox.clientId(), cred, f.sandbox.tenantId()),
        "https://outlook.office365.com/.default");
    assertThat(claims(r.accessToken()).getString("aud")).isEqualTo("https://outlook.office365.com");
    assertThat(claims(r.accessToken()).getString("appidacr")).isEqualTo("2");
  }

  @Test
  void msalWithTheTenantDomainAndPemCertificateWorks() throws Exception {
    PrivateKey key = Pem.readPrivateKey(f.sandbox.clientKeyPem());
    IClientCredential cred = ClientCredentialFactory.createFromCertificate(key,
        Pem.readCertificates(f.sandbox.clientCertificatePem()).get(0));
    IAuthenticationResult r = acquire(msal(f.sandbox.clientId(), cred, f.sandbox.tenantDomain()), f.sandbox.scope());
    assertThat(r.accessToken()).isNotBlank();
  }

  @Test
  void msalWithAnUnregisteredCertificateIsRefused700027() throws Exception {
    CertificateAuthority other = CertificateAuthority.generate("other", Duration.ofDays(1));
    CertificateAuthority.Issued c = other.issueClient("stranger", Instant.now().minusSeconds(60), Duration.ofDays(1));
    MsalServiceException e = msalFailure(msal(f.sandbox.clientId(),
        ClientCredentialFactory.createFromCertificate(c.keys().getPrivate(), c.certificate()), f.sandbox.tenantId()),
        f.sandbox.scope());
    assertThat(e.statusCode()).isEqualTo(401);
    assertThat(e.errorCode()).isEqualTo("invalid_client");
    assertThat(e.getMessage()).contains("AADSTS700027");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
      "wrong secret,        client, wrong,  tenant,  401, invalid_client,      AADSTS7000215",
      "unknown client,      other,  secret, tenant,  400, unauthorized_client, AADSTS700016",
      "unknown tenant GUID, client, secret, other,   400, invalid_request,     AADSTS90002",
      "unknown domain,      client, secret, domain,  400, invalid_request,     AADSTS90002",
  })
  void msalSeesTheConfigurationErrors(String name, String client, String secret, String tenant, int status,
      String error, String aadsts) throws Exception {
    String clientId = client.equals("client") ? f.sandbox.clientId() : UUID.randomUUID().toString();
    String s = secret.equals("secret") ? f.sandbox.clientSecret() : "abc~wrong";
    String t = switch (tenant) {
      case "tenant" -> f.sandbox.tenantId();
      case "domain" -> "contoso.onmicrosoft.com";
      default -> UUID.randomUUID().toString();
    };
    int before = f.sandbox.tokenRequests();
    MsalServiceException e = msalFailure(msal(clientId, ClientCredentialFactory.createFromSecret(s), t),
        f.sandbox.scope());
    assertThat(e.statusCode()).isEqualTo(status);
    assertThat(e.errorCode()).isEqualTo(error);
    assertThat(e.getMessage()).contains(aadsts);
    assertThat(f.sandbox.tokenRequests()).isEqualTo(before + 1); // a 4xx is not retried
  }

  @Test
  void injectedTokenErrorsReachMsalWithTheirStatus() throws Exception {
    f.sandbox.faults().tokenError("AADSTS7000222", 1);
    ConfidentialClientApplication app = msal(f.sandbox.clientId(),
        ClientCredentialFactory.createFromSecret(f.sandbox.clientSecret()), f.sandbox.tenantId());
    MsalServiceException e = msalFailure(app, f.sandbox.scope());
    assertThat(e.statusCode()).isEqualTo(401);
    assertThat(e.getMessage()).contains("AADSTS7000222");
    assertThat(acquire(app, f.sandbox.scope()).accessToken()).isNotBlank(); // count was 1
  }

  @Test
  void serverErrorWithoutRetryAfterIsRetriedOnceByMsal() throws Exception {
    f.sandbox.faults().tokenServerError(503, null, 1);
    int before = f.sandbox.tokenRequests();
    IAuthenticationResult r = acquire(msal(f.sandbox.clientId(),
        ClientCredentialFactory.createFromSecret(f.sandbox.clientSecret()), f.sandbox.tenantId()), f.sandbox.scope());
    assertThat(r.accessToken()).isNotBlank();
    assertThat(f.sandbox.tokenRequests()).isEqualTo(before + 2);
  }

  // ---- raw requests ----------------------------------------------------------------------------

  private Map<String, String> good() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("client_info", "1");
    m.put("scope", "openid " + f.sandbox.scope() + " profile offline_access");
    m.put("client_secret", f.sandbox.clientSecret());
    m.put("grant_type", "client_credentials");
    m.put("client_id", f.sandbox.clientId());
    return m;
  }

  private static void assertAadError(HttpResponse<String> r, int status, String error, String code) {
    assertThat(r.statusCode()).isEqualTo(status);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json; charset=utf-8");
    JsonObject j = new JsonObject(r.body());
    assertThat(j.getString("error")).isEqualTo(error);
    assertThat(j.getString("error_description"))
        .startsWith("AADSTS" + code + ": ")
        .containsPattern("\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: "
            + "\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ$");
    assertThat(j.getJsonArray("error_codes")).containsExactly((Object) Integer.valueOf(code));
    assertThat(j.getString("timestamp")).matches("\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ");
    assertThat(j.getString("trace_id")).hasSize(36);
    assertThat(j.getString("correlation_id")).hasSize(36);
    assertThat(j.getString("error_uri")).endsWith("/error?code=" + code);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "no grant_type      | grant_type=      | 400 | invalid_request        | 900144",
      "password grant     | grant_type=password | 400 | unsupported_grant_type | 70003",
      "no scope           | scope=           | 400 | invalid_request        | 900144",
      "no .default        | scope=https://outlook.office365.com/Mail.Send | 400 | invalid_scope | 1002012",
      "only oidc scopes   | scope=openid profile offline_access | 400 | invalid_scope | 1002012",
      "two resources      | scope=https://outlook.office365.com/.default https://graph.microsoft.com/.default | 400 | invalid_scope | 70011",
      "EWS URL as scope   | scope=https://outlook.office365.com/EWS/Exchange.asmx/.default | 400 | invalid_resource | 500011",
      "no credential      | client_secret=   | 401 | invalid_client         | 7000218",
      "wrong secret       | client_secret=secret-id-not-value | 401 | invalid_client | 7000215",
      "unknown client     | client_id=00000000-0000-0000-0000-000000000001 | 400 | unauthorized_client | 700016",
  })
  void rawRequestErrors(String name, String change, int status, String error, String code) throws Exception {
    Map<String, String> m = good();
    String k = change.substring(0, change.indexOf('='));
    String v = change.substring(change.indexOf('=') + 1);
    if (v.isEmpty()) {
      m.remove(k);
    } else {
      m.put(k, v);
    }
    assertAadError(f.postForm(f.sandbox.tokenUrl(), SandboxFixture.form(m)), status, error, code);
  }

  @Test
  void malformedTenantIs900023AndGetIs900561() throws Exception {
    assertAadError(f.postForm(f.sandbox.loginUrl() + "/not_a_tenant!/oauth2/v2.0/token",
        SandboxFixture.form(good())), 400, "invalid_request", "900023");
    HttpResponse<String> get = f.http.send(HttpRequest.newBuilder(URI.create(f.sandbox.tokenUrl())).GET().build(),
        HttpResponse.BodyHandlers.ofString());
    assertAadError(get, 400, "invalid_request", "900561");
  }

  @Test
  void secretInBasicAuthAndClientIdInQueryAreAccepted() throws Exception {
    Map<String, String> m = good();
    m.remove("client_secret");
    m.remove("client_id");
    String basic = Base64.getEncoder().encodeToString((f.sandbox.clientId() + ":"
        + java.net.URLEncoder.encode(f.sandbox.clientSecret(), StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8));
    HttpResponse<String> r = f.postForm(f.sandbox.tokenUrl() + "?client_id=" + f.sandbox.clientId(),
        SandboxFixture.form(m), "Authorization", "Basic " + basic);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json; charset=utf-8");
    JsonObject j = new JsonObject(r.body());
    assertThat(j.getString("token_type")).isEqualTo("Bearer");
    assertThat(j.getInteger("expires_in")).isEqualTo(3599);
    assertThat(j.getInteger("ext_expires_in")).isEqualTo(3599);
  }

  private String assertion(JsonObject claims, boolean x5t) throws Exception {
    var cert = Pem.readCertificates(f.sandbox.clientCertificatePem()).get(0);
    JsonObject header = new JsonObject().put("alg", "RS256").put("typ", "JWT");
    if (x5t) {
      header.put("x5t#S256", Base64.getEncoder().encodeToString(
          MessageDigest.getInstance("SHA-256").digest(cert.getEncoded())));
    }
    return Jwt.sign(header, claims, Pem.readPrivateKey(f.sandbox.clientKeyPem()));
  }

  private JsonObject assertionClaims(long nbf, long exp) {
    return new JsonObject().put("aud", f.sandbox.tokenUrl()).put("iss", f.sandbox.clientId())
        .put("sub", f.sandbox.clientId()).put("jti", UUID.randomUUID().toString()).put("nbf", nbf).put("exp", exp);
  }

  private HttpResponse<String> withAssertion(String jwt) throws Exception {
    Map<String, String> m = good();
    m.remove("client_secret");
    m.put("client_assertion_type", TokenEndpoint.JWT_BEARER);
    m.put("client_assertion", jwt);
    return f.postForm(f.sandbox.tokenUrl(), SandboxFixture.form(m));
  }

  @Test
  void assertionChecks() throws Exception {
    long now = Instant.now().getEpochSecond();
    assertThat(withAssertion(assertion(assertionClaims(now, now + 600), true)).statusCode()).isEqualTo(200);
    // outside its validity window (beyond the 5-minute skew): a host clock off by an hour
    assertAadError(withAssertion(assertion(assertionClaims(now - 4000, now - 3400), true)),
        401, "invalid_client", "700024");
    assertAadError(withAssertion(assertion(assertionClaims(now + 3600, now + 4200), true)),
        401, "invalid_client", "700024");
    assertAadError(withAssertion(assertion(assertionClaims(now, now + 600), false)), 401, "invalid_client", "700027");
    assertAadError(withAssertion(assertion(assertionClaims(now, now + 600).put("aud",
        "https://login.microsoftonline.com/" + UUID.randomUUID() + "/oauth2/v2.0/token"), true)),
        401, "invalid_client", "700023");
    assertAadError(withAssertion(assertion(assertionClaims(now, now + 600).put("iss", UUID.randomUUID().toString()),
        true)), 401, "invalid_client", "700021");
    String good = assertion(assertionClaims(now, now + 600), true);
    String tampered = good.substring(0, good.lastIndexOf('.')) + "." + Base64.getUrlEncoder().withoutPadding()
        .encodeToString(new byte[256]);
    assertAadError(withAssertion(tampered), 401, "invalid_client", "700027");
  }

  @Test
  void serverErrorCarriesRetryAfter() throws Exception {
    f.sandbox.faults().tokenServerError(503, 7, 1);
    HttpResponse<String> r = f.postForm(f.sandbox.tokenUrl(), SandboxFixture.form(good()));
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.headers().firstValue("Retry-After")).hasValue("7");
    assertThat(f.postForm(f.sandbox.tokenUrl(), SandboxFixture.form(good())).statusCode()).isEqualTo(200);
  }

  @Test
  void shortTokenLifetimeFault() throws Exception {
    f.sandbox.faults().tokenLifetime(Duration.ofSeconds(120));
    JsonObject j = new JsonObject(f.postForm(f.sandbox.tokenUrl(), SandboxFixture.form(good())).body());
    assertThat(j.getInteger("expires_in")).isEqualTo(120);
  }

  @Test
  void plainJdkClientWithoutTheSandboxCaIsRefused() {
    HttpClient plain = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    assertThatThrownBy(() -> plain.send(HttpRequest.newBuilder(URI.create(f.sandbox.tokenUrl()))
        .POST(HttpRequest.BodyPublishers.ofString(SandboxFixture.form(good()))).build(),
        HttpResponse.BodyHandlers.ofString())).isInstanceOf(SSLHandshakeException.class);
  }

  @Test
  void discoveryIsAnsweredButCounted() throws Exception {
    int before = f.sandbox.discoveryRequests();
    HttpResponse<String> r = f.http.send(HttpRequest.newBuilder(URI.create(f.sandbox.loginUrl()
        + "/common/discovery/instance?api-version=1.1&authorization_endpoint=x")).GET().build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(new JsonObject(r.body()).getString("api-version")).isEqualTo("1.1");
    assertThat(f.sandbox.discoveryRequests()).isEqualTo(before + 1);
  }
}
