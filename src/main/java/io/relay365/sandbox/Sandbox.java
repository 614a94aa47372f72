package io.relay365.sandbox;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.BodyHandler;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.List;
import java.util.Locale;

/**
 * A faithful fake of Microsoft 365 for relay365: the Entra ID v2.0 token endpoint (client credentials, secret or
 * certificate) and Exchange Web Services (CreateItem with raw MIME, GetFolder), on one HTTPS port with a
 * generated CA. It is strict where the real service is strict (microsoft-wire.md §6), so a relay that passes
 * against it should pass against Microsoft.
 *
 * <h2>URLs and TLS</h2>
 * The server listens on {@link SandboxOptions#host()} (default 127.0.0.1) and every URL uses that literal
 * address, e.g. {@code https://127.0.0.1:PORT}: no name resolution is involved, and the server certificate
 * carries SANs {@code localhost}, {@code 127.0.0.1} and {@code ::1} (plus the bind host), so hostname
 * verification passes for any loopback spelling. A wildcard bind address (0.0.0.0, ::) is advertised as 127.0.0.1.
 * Clients trust {@link #caFile()} (the relay: {@code microsoft.ca-file}); the JDK's default trust store does
 * not know it, so nothing works without it.
 *
 * <h2>Audience and scope</h2>
 * Exchange Online's token audience is {@code https://outlook.office365.com}. The relay derives its default
 * scope from the ews.url origin, i.e. here {@code https://127.0.0.1:PORT/.default} ({@link #scope()}). The token
 * endpoint accepts that scope and {@code https://outlook.office365.com/.default} (and issues Graph tokens,
 * which EWS refuses); a token's {@code aud} is the resource requested, and EWS accepts either audience.
 *
 * <h2>Microsoft Graph</h2>
 * Graph is served on a second HTTPS listener, its own origin ({@link #graphUrl()}, same CA and
 * certificate), as graph.microsoft.com is a host of its own: sendMail, the large-message path (drafts,
 * attachments, upload sessions, send, delete) and doctor's harmless calls ({@link GraphEndpoint}). The
 * relay's default Graph scope is then {@code graphUrl() + "/.default"}; the token endpoint issues tokens
 * for it (and for https://graph.microsoft.com) with the Graph roles, and Graph accepts either audience.
 * Upload URLs point at the main origin, as the real ones point at the Outlook host.
 *
 * <h2>SMTP submission</h2>
 * Exchange Online's client submission endpoint (smtp.office365.com:587) listens on a port of its own
 * ({@link #smtpServer()}): plain TCP, STARTTLS with the same server certificate, AUTH XOAUTH2 with this
 * sandbox's Exchange tokens; see {@link SmtpSession}.
 *
 * <h2>Paths</h2>
 * {@code POST /{tenant}/oauth2/v2.0/token}; {@code GET /common/discovery/instance} (counted: a correctly
 * configured msal never calls it); {@code POST /EWS/Exchange.asmx}; and the control endpoint
 * {@code GET|POST /_sandbox/faults} (JSON, see {@link Faults#apply}) plus {@code GET /_sandbox/stats}. The
 * control endpoint has no authentication: the sandbox is meant for loopback use only.
 *
 * <h2>Persistence</h2>
 * dataDir keeps the CA (ca.pem, ca-key.pem), the client secret (client-secret), the client certificate
 * (client-cert.pem, client-key.pem, client.p12, client.p12.password), the token signing key and the received
 * mail (mail/), so a sandbox restarted on the same dataDir and port is the same service to the relay.
 */
public final class Sandbox {
  /** Replies up to this many bytes are sent uncompressed (see start()). */
  static final int COMPRESS_ABOVE = 1400;
  /** Request body limit: a 150 MB message (Exchange's maximum) is ~200 MB once base64-encoded in SOAP. */
  static final long BODY_LIMIT = 210L * 1024 * 1024;

  private final Vertx vertx;
  private final SandboxOptions options;
  private final SandboxPki pki;
  private final String clientSecret;
  private final MailStore mailStore;
  private final Faults faults = new Faults();
  private final TokenEndpoint token;
  private final EwsEndpoint ews;
  private final GraphEndpoint graph;
  private HttpServer graphServer;
  private int graphPort;
  private final SmtpEndpoint smtp;
  private final String tokenKeyId;
  private HttpServer server;
  private String urlHost;
  private int port;

  private Sandbox(Vertx vertx, SandboxOptions options, SandboxPki pki, String clientSecret, MailStore store)
      throws GeneralSecurityException {
    this.vertx = vertx;
    this.options = options;
    this.pki = pki;
    this.clientSecret = clientSecret;
    this.mailStore = store;
    this.token = new TokenEndpoint(this);
    this.ews = new EwsEndpoint(this);
    this.graph = new GraphEndpoint(this);
    try {
      this.smtp = new SmtpEndpoint(this);
    } catch (IOException e) {
      throw new GeneralSecurityException("cannot load the sandbox's server certificate for SMTP", e);
    }
    byte[] d = MessageDigest.getInstance("SHA-1").digest(pki.tokenKeys.getPublic().getEncoded());
    this.tokenKeyId = Base64.getUrlEncoder().withoutPadding().encodeToString(d);
  }

  /** Starts a sandbox (key generation and file I/O run on a worker thread). */
  public static Future<Sandbox> start(Vertx vertx, SandboxOptions options) {
    if (options.dataDir() == null) {
      return Future.failedFuture(new IllegalArgumentException("SandboxOptions.dataDir is required"));
    }
    return vertx.executeBlocking(() -> {
      Path dir = options.dataDir();
      Files.createDirectories(dir);
      SandboxPki pki = SandboxPki.loadOrCreate(dir, options.host());
      String secret = loadOrCreateSecret(dir, options.clientSecret());
      return new Sandbox(vertx, options, pki, secret, new MailStore(dir.resolve("mail")));
    }, false).compose(Sandbox::listen);
  }

  private static String loadOrCreateSecret(Path dir, String explicit) throws IOException {
    Path file = dir.resolve("client-secret");
    if (explicit != null) {
      SandboxPki.writePrivate(file, explicit + "\n");
      return explicit;
    }
    if (Files.exists(file)) {
      String s = Files.readString(file).trim();
      if (!s.isEmpty()) {
        return s;
      }
    }
    String s = SandboxOptions.generateSecret();
    SandboxPki.writePrivate(file, s + "\n");
    return s;
  }

  private Future<Sandbox> listen() {
    Router router = Router.router(vertx);
    router.route("/_sandbox/*").handler(BodyHandler.create().setBodyLimit(64 * 1024));
    router.get("/_sandbox/faults").handler(ctx -> json(ctx, faults.toJson()));
    router.post("/_sandbox/faults").handler(ctx -> {
      try {
        JsonObject j = ctx.body().asJsonObject();
        faults.apply(j == null ? new JsonObject() : j);
        json(ctx, faults.toJson());
      } catch (RuntimeException e) {
        ctx.response().setStatusCode(400).putHeader("Content-Type", "text/plain; charset=utf-8")
            .end("bad fault specification: " + e.getMessage());
      }
    });
    router.get("/_sandbox/stats").handler(ctx -> json(ctx, new JsonObject().put("tokenRequests", tokenRequests())
        .put("ewsRequests", ewsRequests()).put("discoveryRequests", discoveryRequests())
        .put("received", received().size()).put("graphRequests", graphRequests())
        .put("graphUploadRequests", graphUploadRequests()).put("graphDrafts", graphDrafts())
        .put("smtpSessions", smtpSessions()).put("smtpMessages", smtpMessages())
        .put("smtpQuotaRejections", smtpQuotaRejections())));
    router.get("/common/discovery/instance").handler(token::discovery);
    router.route("/:tenant/oauth2/v2.0/token").handler(BodyHandler.create().setBodyLimit(1024 * 1024)
        .setHandleFileUploads(false));
    router.route("/:tenant/oauth2/v2.0/token").handler(token::handle);
    router.route("/EWS/Exchange.asmx").method(HttpMethod.POST).handler(BodyHandler.create()
        .setBodyLimit(BODY_LIMIT).setHandleFileUploads(false).setMergeFormAttributes(false));
    router.route("/EWS/Exchange.asmx").handler(ews::handle);
    // Upload URLs of Graph's upload sessions: on this origin, as the real ones are on the Outlook host.
    router.route("/api/v2.0/*").handler(BodyHandler.create().setBodyLimit(2 * GraphEndpoint.MAX_CHUNK)
        .setHandleFileUploads(false).setMergeFormAttributes(false));
    router.route("/api/v2.0/*").handler(graph::upload);

    HttpServerOptions so = new HttpServerOptions()
        .setSsl(true)
        .setKeyCertOptions(new PemKeyCertOptions().setCertValue(Buffer.buffer(pki.serverCertPem))
            .setKeyValue(Buffer.buffer(pki.serverKeyPem)))
        .setHost(options.host())
        .setPort(options.port())
        .setCompressionSupported(true)
        // GUESS: like IIS, replies too small to gain anything (a CreateItem success is ~1 KB) go uncompressed;
        // starting a deflater for each of them was a tenth of the sandbox's CPU in the Postfix comparison
        .setCompressionContentSizeThreshold(COMPRESS_ABOVE)
        .setDecompressionSupported(true); // ews-java-api sends Accept-Encoding: gzip,deflate
    server = vertx.createHttpServer(so).requestHandler(router);

    Router graphRouter = Router.router(vertx);
    // Above Graph's ~4 MB the endpoint answers 413 itself; the larger limit only bounds what is buffered.
    graphRouter.route("/v1.0/*").handler(BodyHandler.create().setBodyLimit(16 * GraphEndpoint.MAX_REQUEST)
        .setHandleFileUploads(false).setMergeFormAttributes(false));
    graphRouter.route("/v1.0/*").handler(graph::handle);
    graphRouter.route().handler(graph::unknown);
    HttpServerOptions gso = new HttpServerOptions(so).setPort(options.graphPort());
    graphServer = vertx.createHttpServer(gso).requestHandler(graphRouter);
    return server.listen().compose(s -> {
      port = s.actualPort();
      String h = options.host();
      if (h.equals("0.0.0.0") || h.equals("::") || h.equals("[::]")) {
        h = "127.0.0.1";
      }
      urlHost = h.contains(":") && !h.startsWith("[") ? "[" + h + "]" : h;
      return graphServer.listen().recover(e -> server.close().transform(x -> Future.failedFuture(e)));
    }).map(g -> {
      graphPort = g.actualPort();
      return this;
    }).compose(sb -> vertx.executeBlocking(() -> {
      smtp.start(options.host(), options.smtpPort());
      return this;
    }, false).recover(e -> Future.join(server.close(), graphServer.close()).transform(x -> Future.failedFuture(e))));
  }

  private static void json(io.vertx.ext.web.RoutingContext ctx, JsonObject j) {
    ctx.response().putHeader("Content-Type", "application/json; charset=utf-8").end(j.encodePrettily());
  }

  // ---- public API ------------------------------------------------------------------------------

  /** The relay's microsoft.login-url, e.g. {@code https://127.0.0.1:PORT} (no trailing slash). */
  public String loginUrl() {
    return "https://" + urlHost + ":" + port;
  }

  /** {@code https://127.0.0.1:PORT/EWS/Exchange.asmx}. */
  public String ewsUrl() {
    return ewsOrigin() + "/EWS/Exchange.asmx";
  }

  /** The ews.url origin + "/.default": what the relay asks for by default (see class doc, "Audience"). */
  public String scope() {
    return ewsOrigin() + "/.default";
  }

  /** Token URL for this tenant: {@code https://127.0.0.1:PORT/{tenant}/oauth2/v2.0/token}. */
  public String tokenUrl() {
    return loginUrl() + "/" + tenantId() + "/oauth2/v2.0/token";
  }

  public int port() {
    return port;
  }

  /**
   * The relay's graph.url: the sandbox's Graph origin, {@code https://127.0.0.1:GRAPHPORT} (no path, no
   * trailing slash). Graph is on a listener of its own, as graph.microsoft.com is a host of its own.
   */
  public String graphUrl() {
    return "https://" + urlHost + ":" + graphPort;
  }

  /** The Graph listener's port. */
  public int graphPort() {
    return graphPort;
  }

  public Path caFile() {
    return pki.caFile;
  }

  public String tenantId() {
    return options.tenantId();
  }

  /** The verified domain accepted in the token URL instead of the tenant GUID. */
  public String tenantDomain() {
    return options.tenantDomain();
  }

  public String clientId() {
    return options.clientId();
  }

  public String clientSecret() {
    return clientSecret;
  }

  /** The registered client certificate (PEM: certificate, then the CA). */
  public Path clientCertificatePem() {
    return pki.clientCertPem;
  }

  /** Its PKCS#8 private key (mode 0600). */
  public Path clientKeyPem() {
    return pki.clientKeyPem;
  }

  /** Key and chain as PKCS#12 (alias "1"), protected by {@link #clientPkcs12Password()}. */
  public Path clientPkcs12() {
    return pki.clientPkcs12;
  }

  public String clientPkcs12Password() {
    return pki.clientPkcs12Password;
  }

  /** Where received messages go: NNNNNN.eml (exact MIME) + NNNNNN.json. */
  public Path mailDir() {
    return mailStore.dir();
  }

  /** Every accepted message in arrival order (including earlier runs on the same dataDir); a snapshot. */
  public List<ReceivedMessage> received() {
    return mailStore.received();
  }

  /** Token POSTs received, success or failure. */
  public int tokenRequests() {
    return token.requests.get();
  }

  /** EWS requests received, whatever their outcome. */
  public int ewsRequests() {
    return ews.requests.get();
  }

  /** Graph API requests received (sendMail, drafts, attachments, upload sessions, send, delete, probes). */
  public int graphRequests() {
    return graph.requests.get();
  }

  /** PUTs to upload URLs received. */
  public int graphUploadRequests() {
    return graph.uploadRequests.get();
  }

  /** Graph drafts that exist now (created and neither sent nor deleted). */
  public int graphDrafts() {
    return graph.drafts.count();
  }

  /** Host of the SMTP submission endpoint (the relay's smtp-oauth.server host). */
  public String smtpHost() {
    return urlHost.replace("[", "").replace("]", "");
  }

  /** Port of the SMTP submission endpoint. */
  public int smtpPort() {
    return smtp.port();
  }

  /** The relay's smtp-oauth.server: "host:port" ("[::1]:port" for IPv6). */
  public String smtpServer() {
    return urlHost + ":" + smtpPort();
  }

  /** SMTP connections accepted so far. */
  public int smtpSessions() {
    return smtp.sessions.get();
  }

  /** Messages accepted by SMTP submission so far. */
  public int smtpMessages() {
    return smtp.messages.get();
  }

  /** Submissions refused for the 30-messages-a-minute rule so far (a relay that paces itself causes none). */
  public int smtpQuotaRejections() {
    return smtp.quotaRejections.get();
  }

  /** GET /common/discovery/instance requests: should stay 0 with instanceDiscovery(false). */
  public int discoveryRequests() {
    return token.discovery.get();
  }

  public Faults faults() {
    return faults;
  }

  /**
   * Writes dataDir/relay-fragment.yaml (mode 0600: it holds the secret) with the microsoft.* and ews.url keys
   * pointing at this sandbox, and returns its path.
   */
  public Path writeRelayConfig() {
    String yaml = "# Written by relay365 sandbox: points the relay at this sandbox (" + loginUrl() + ").\n"
        + "# To use the certificate credential instead of the secret, replace client-secret with:\n"
        + "#   certificate:\n"
        + "#     file: " + q(clientPkcs12().toString()) + "\n"
        + "#     password: " + q(clientPkcs12Password()) + "\n"
        + "# or the PEM pair: file: " + q(clientCertificatePem().toString()) + ", key-file: "
        + q(clientKeyPem().toString()) + "\n"
        + "microsoft:\n"
        + "  tenant-id: " + q(tenantId()) + "\n"
        + "  client-id: " + q(clientId()) + "\n"
        + "  client-secret: " + q(clientSecret) + "\n"
        + "  login-url: " + q(loginUrl()) + "\n"
        + "  ca-file: " + q(caFile().toAbsolutePath().toString()) + "\n"
        + "ews:\n"
        + "  url: " + q(ewsUrl()) + "\n"
        + "# To deliver through Microsoft Graph instead of EWS, add this line (or set\n"
        + "# RELAY365_DELIVERY_TRANSPORT=graph); the token scope follows graph.url:\n"
        + "#delivery.transport: graph\n"
        + "graph:\n"
        + "  url: " + q(graphUrl()) + "\n"
        + "# SMTP submission with XOAUTH2: to use it instead of EWS, add delivery.transport: smtp-oauth\n"
        + "# (or set RELAY365_DELIVERY_TRANSPORT=smtp-oauth)\n"
        + "smtp-oauth:\n"
        + "  server: " + q(smtpServer()) + "\n";
    Path file = options.dataDir().resolve("relay-fragment.yaml");
    try {
      SandboxPki.writePrivate(file, yaml);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return file;
  }

  public Future<Void> close() {
    smtp.close();
    Future<Void> g = graphServer == null ? Future.succeededFuture() : graphServer.close();
    Future<Void> m = server == null ? Future.succeededFuture() : server.close();
    return Future.join(g, m).mapEmpty();
  }

  // ---- package-private: used by the endpoints --------------------------------------------------

  Vertx vertx() {
    return vertx;
  }

  SandboxOptions options() {
    return options;
  }

  SandboxPki pki() {
    return pki;
  }

  MailStore mailStore() {
    return mailStore;
  }

  String tokenKeyId() {
    return tokenKeyId;
  }

  String ewsOrigin() {
    return loginUrl();
  }

  /** The Graph listener's origin: an audience Graph accepts, and a resource the token endpoint knows. */
  String graphOrigin() {
    return graphUrl();
  }

  String loginHost() {
    return urlHost + ":" + port;
  }

  /** Every spelling of this server's origin a client may use (for the client-assertion audience). */
  List<String> loginOrigins() {
    return List.of(loginUrl(), "https://localhost:" + port, "https://127.0.0.1:" + port, "https://[::1]:" + port);
  }

  private static String q(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  @Override
  public String toString() {
    return "Sandbox[" + loginUrl().toLowerCase(Locale.ROOT) + "]";
  }
}
