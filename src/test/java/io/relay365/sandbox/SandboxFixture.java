package io.relay365.sandbox;

import io.relay365.tls.Pem;
import io.relay365.tls.TrustStores;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import microsoft.exchange.webservices.data.core.ExchangeService;
import microsoft.exchange.webservices.data.core.enumeration.misc.ExchangeVersion;
import org.apache.http.config.Registry;
import org.apache.http.config.RegistryBuilder;
import org.apache.http.conn.socket.ConnectionSocketFactory;
import org.apache.http.conn.ssl.SSLConnectionSocketFactory;

/** A running sandbox plus strict-TLS clients for it (shared by the sandbox tests). */
@SuppressWarnings("try")
final class SandboxFixture implements AutoCloseable {
  final Vertx vertx;
  final Sandbox sandbox;
  final SSLContext tls;
  final HttpClient http;

  SandboxFixture(Path dir) throws Exception {
    this(Vertx.vertx(), new SandboxOptions().dataDir(dir));
  }

  SandboxFixture(Vertx vertx, SandboxOptions options) throws Exception {
    this.vertx = vertx;
    this.sandbox = Sandbox.start(vertx, options).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    this.tls = TrustStores.clientContext(sandbox.caFile());
    this.http = HttpClient.newBuilder().sslContext(tls).connectTimeout(Duration.ofSeconds(5)).build();
  }

  @Override
  public void close() throws Exception {
    sandbox.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  static String form(Map<String, String> fields) {
    StringBuilder sb = new StringBuilder();
    fields.forEach((k, v) -> sb.append(sb.length() == 0 ? "" : "&").append(k).append('=')
        .append(URLEncoder.encode(v, StandardCharsets.UTF_8)));
    return sb.toString();
  }

  HttpResponse<String> postForm(String url, String body, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20))
        .header("Content-Type", "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString(body));
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** A token for {@code scope} via the client secret, over raw HTTP. */
  String token(String scope) throws Exception {
    HttpResponse<String> r = postForm(sandbox.tokenUrl(), form(Map.of("grant_type", "client_credentials",
        "client_id", sandbox.clientId(), "client_secret", sandbox.clientSecret(), "scope", scope)));
    if (r.statusCode() != 200) {
      throw new AssertionError("token request failed: " + r.body());
    }
    return new JsonObject(r.body()).getString("access_token");
  }

  String token() throws Exception {
    return token(sandbox.scope());
  }

  HttpResponse<String> ews(String body, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(sandbox.ewsUrl())).timeout(Duration.ofSeconds(30))
        .POST(HttpRequest.BodyPublishers.ofString(body));
    boolean ct = false;
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
      ct |= headers[i].equalsIgnoreCase("Content-Type");
    }
    if (!ct) {
      b.header("Content-Type", "text/xml; charset=utf-8");
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** An access token signed with the sandbox's own key but with the given claims (expired, wrong tenant, ...). */
  String craftToken(JsonObject claims, PrivateKey key) throws Exception {
    return Jwt.sign(new JsonObject().put("typ", "JWT").put("alg", "RS256"), claims, key);
  }

  PrivateKey sandboxTokenKey() throws Exception {
    return Pem.readPrivateKey(sandbox.options().dataDir().resolve("token-signing-key.pem"));
  }

  JsonObject validClaims() {
    long now = Instant.now().getEpochSecond();
    return new JsonObject().put("aud", TokenEndpoint.OUTLOOK)
        .put("iss", "https://sts.windows.net/" + sandbox.tenantId() + "/").put("tid", sandbox.tenantId())
        .put("appid", sandbox.clientId()).put("roles", new JsonArray().add("full_access_as_app"))
        .put("iat", now).put("nbf", now - 60).put("exp", now + 3600).put("jti", UUID.randomUUID().toString());
  }

  static String b64(String s) {
    return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }

  static final String MIME = "From: app@contoso.com\r\nTo: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n";

  /** The §2.2 CreateItem envelope with replaceable parts. */
  static String createItem(String impersonation, String disposition, String beforeItems, String messageChildren) {
    return "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
        + "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\""
        + " xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\""
        + " xmlns:m=\"http://schemas.microsoft.com/exchange/services/2006/messages\">"
        + "<soap:Header><t:RequestServerVersion Version=\"Exchange2013_SP1\"/>" + impersonation + "</soap:Header>"
        + "<soap:Body><m:CreateItem" + (disposition == null ? "" : " MessageDisposition=\"" + disposition + "\"") + ">"
        + beforeItems + "<m:Items><t:Message>" + messageChildren + "</t:Message></m:Items></m:CreateItem>"
        + "</soap:Body></soap:Envelope>";
  }

  static String impersonate(String element, String addr) {
    return "<t:ExchangeImpersonation><t:ConnectingSID><t:" + element + ">" + addr + "</t:" + element
        + "></t:ConnectingSID></t:ExchangeImpersonation>";
  }

  static String mimeAndBcc(String base64, String bcc) {
    return "<t:MimeContent CharacterSet=\"UTF-8\">" + base64 + "</t:MimeContent>"
        + (bcc == null ? "" : "<t:BccRecipients><t:Mailbox><t:EmailAddress>" + bcc
            + "</t:EmailAddress></t:Mailbox></t:BccRecipients>");
  }

  static String validCreateItem(String mailbox) {
    return createItem(impersonate("PrimarySmtpAddress", mailbox), "SendOnly", "",
        mimeAndBcc(b64(MIME), "hidden@example.com"));
  }

  /** ews-java-api with real TLS: the library's default trust manager accepts any self-signed certificate. */
  static final class StrictTlsExchangeService extends ExchangeService {
    // createConnectionSocketFactoryRegistry() runs inside the super constructor, before instance fields exist.
    static volatile SSLContext context;

    StrictTlsExchangeService(ExchangeVersion v) {
      super(v);
    }

    @Override
    protected Registry<ConnectionSocketFactory> createConnectionSocketFactoryRegistry() {
      return RegistryBuilder.<ConnectionSocketFactory>create()
          .register("https", new SSLConnectionSocketFactory(context, SSLConnectionSocketFactory.getDefaultHostnameVerifier()))
          .build();
    }
  }
}
