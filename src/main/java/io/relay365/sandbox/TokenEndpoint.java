package io.relay365.sandbox;

import io.netty.handler.codec.http.QueryStringDecoder;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;

/**
 * {@code POST /{tenant}/oauth2/v2.0/token}, client-credentials grant only (microsoft-wire.md §1.2–1.5, §6).
 * Tolerant where Entra is tolerant (field order, secret in body or HTTP Basic, client_id in the query,
 * msal's extra {@code openid profile offline_access} scopes); strict on everything else.
 */
final class TokenEndpoint {
  static final String JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
  /** Resource app of Exchange Online; the real EWS audience. */
  static final String OUTLOOK = "https://outlook.office365.com";
  /** Microsoft Graph's resource; the sandbox's Graph accepts it and its own origin as the audience (§3). */
  static final String GRAPH = "https://graph.microsoft.com";
  /** Clock skew tolerated on client assertions (Microsoft.IdentityModel's default, 5 minutes). */
  static final Duration ASSERTION_SKEW = Duration.ofMinutes(5);
  /** Object ID of the sandbox app's service principal (the token's oid/sub). */
  static final String SERVICE_PRINCIPAL_OID = "3f9b6c1d-2e4a-4b7f-8a05-9d1c7e2b4f60";

  private static final Pattern GUID =
      Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
  private static final Pattern DOMAIN =
      Pattern.compile("(?i)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}");
  private static final Set<String> OIDC_SCOPES = Set.of("openid", "profile", "offline_access");

  private final Sandbox sandbox;
  final AtomicInteger requests = new AtomicInteger();
  final AtomicInteger discovery = new AtomicInteger();

  TokenEndpoint(Sandbox sandbox) {
    this.sandbox = sandbox;
  }

  void handle(RoutingContext ctx) {
    if (ctx.request().method() != HttpMethod.POST) {
      // Entra answers a GET on the token URL with AADSTS900561 (the client must POST).
      error(ctx, "900561", Map.of("method", ctx.request().method().name()));
      return;
    }
    requests.incrementAndGet();
    long delay = sandbox.faults().tokenLatency().toMillis();
    if (delay > 0) {
      sandbox.vertx().setTimer(delay, t -> process(ctx));
    } else {
      process(ctx);
    }
  }

  /** GET /common/discovery/instance: what msal asks unless instanceDiscovery(false); counted so tests can forbid it. */
  void discovery(RoutingContext ctx) {
    discovery.incrementAndGet();
    String host = sandbox.loginHost();
    JsonObject body = new JsonObject()
        .put("tenant_discovery_endpoint", sandbox.loginUrl() + "/" + sandbox.tenantId()
            + "/v2.0/.well-known/openid-configuration")
        .put("api-version", "1.1")
        .put("metadata", new JsonArray().add(new JsonObject().put("preferred_network", host)
            .put("preferred_cache", host).put("aliases", new JsonArray().add(host))));
    json(ctx, 200, body);
  }

  private void process(RoutingContext ctx) {
    Faults.TokenServerError fse = sandbox.faults().takeTokenServerError();
    if (fse != null) {
      JsonObject body = AadError.body("90033", sandbox.loginUrl(), Map.of());
      if (fse.retryAfterSeconds() != null) {
        ctx.response().putHeader("Retry-After", String.valueOf(fse.retryAfterSeconds()));
      }
      json(ctx, fse.status(), body);
      return;
    }
    String tenant = ctx.pathParam("tenant");
    Map<String, String> vars = new HashMap<>();
    vars.put("tenant", tenant);
    String corr = ctx.request().getHeader("client-request-id");
    if (corr != null && GUID.matcher(corr).matches()) {
      vars.put("correlation", corr); // Entra echoes the client's request id as correlation id
    }
    boolean ours = tenant.equalsIgnoreCase(sandbox.tenantId()) || tenant.equalsIgnoreCase(sandbox.tenantDomain());
    if (!ours) {
      // "common"/"organizations"/"consumers" cannot issue app-only tokens; GUESS: answered like an unknown tenant.
      boolean wellFormed = GUID.matcher(tenant).matches() || DOMAIN.matcher(tenant).matches()
          || Set.of("common", "organizations", "consumers").contains(tenant.toLowerCase(Locale.ROOT));
      error(ctx, wellFormed ? "90002" : "900023", vars);
      return;
    }
    String injected = sandbox.faults().takeTokenError();
    if (injected != null) {
      vars.put("client", sandbox.clientId());
      vars.put("scope", OUTLOOK + "/.default");
      vars.put("resource", OUTLOOK);
      vars.put("reason", "The key was not found.");
      vars.put("thumbprint", "");
      vars.put("param", "grant_type");
      vars.put("grant", "password");
      vars.put("method", "GET");
      vars.put("now", Instant.now().toString());
      vars.put("nbf", Instant.now().toString());
      vars.put("exp", Instant.now().toString());
      error(ctx, injected, vars);
      return;
    }

    String ct = ctx.request().getHeader("Content-Type");
    boolean form = ct != null && ct.toLowerCase(Locale.ROOT).startsWith("application/x-www-form-urlencoded");
    Map<String, List<String>> body = form && ctx.body().buffer() != null
        ? new QueryStringDecoder(ctx.body().asString(StandardCharsets.UTF_8.name()), StandardCharsets.UTF_8, false)
            .parameters()
        : Map.of();
    Map<String, List<String>> query = new QueryStringDecoder(ctx.request().uri()).parameters();

    String grant = first(body, "grant_type");
    if (grant == null) {
      error(ctx, "900144", with(vars, "param", "grant_type"));
      return;
    }
    if (!grant.equals("client_credentials")) {
      error(ctx, "70003", with(vars, "grant", grant));
      return;
    }

    // RFC 6749 2.3.1: Basic credentials are form-urlencoded before base64.
    String basicId = null;
    String basicSecret = null;
    String auth = ctx.request().getHeader("Authorization");
    if (auth != null && auth.regionMatches(true, 0, "Basic ", 0, 6)) {
      try {
        String dec = new String(Base64.getDecoder().decode(auth.substring(6).trim()), StandardCharsets.UTF_8);
        int colon = dec.indexOf(':');
        if (colon > 0) {
          basicId = QueryStringDecoder.decodeComponent(dec.substring(0, colon), StandardCharsets.UTF_8);
          basicSecret = QueryStringDecoder.decodeComponent(dec.substring(colon + 1), StandardCharsets.UTF_8);
        }
      } catch (IllegalArgumentException e) {
        error(ctx, "9002313", vars);
        return;
      }
    }
    String clientId = first(body, "client_id");
    if (clientId == null) {
      clientId = first(query, "client_id");
    }
    if (clientId == null) {
      clientId = basicId;
    }
    if (clientId == null) {
      error(ctx, "900144", with(vars, "param", "client_id"));
      return;
    }
    vars.put("client", clientId);
    if (!clientId.equalsIgnoreCase(sandbox.clientId())) {
      error(ctx, "700016", vars);
      return;
    }

    String scopeParam = first(body, "scope");
    if (scopeParam == null) {
      error(ctx, "900144", with(vars, "param", "scope"));
      return;
    }
    Set<String> scopes = new LinkedHashSet<>();
    for (String s : scopeParam.trim().split("\\s+")) {
      if (!s.isEmpty() && !OIDC_SCOPES.contains(s)) {
        scopes.add(s);
      }
    }
    vars.put("scope", String.join(" ", scopes));
    List<String> defaults = new ArrayList<>();
    for (String s : scopes) {
      if (s.endsWith("/.default")) {
        defaults.add(s);
      }
    }
    if (defaults.isEmpty()) {
      error(ctx, "1002012", vars);
      return;
    }
    if (defaults.size() > 1 || scopes.size() > 1) {
      // .default cannot be combined with other scopes, and one request covers one resource (§1.1).
      error(ctx, "70011", vars);
      return;
    }
    String resource = defaults.get(0).substring(0, defaults.get(0).length() - "/.default".length());
    String audience = knownResource(resource);
    if (audience == null) {
      error(ctx, "500011", with(vars, "resource", resource));
      return;
    }

    String secret = first(body, "client_secret");
    if (secret == null) {
      secret = basicSecret;
    }
    String assertion = first(body, "client_assertion");
    String assertionType = first(body, "client_assertion_type");
    String appidacr;
    if (secret != null && (assertion != null || assertionType != null)) {
      error(ctx, "9002313", vars); // GUESS: two credentials at once is a malformed request
      return;
    }
    if (secret != null) {
      if (!MessageDigest.isEqual(secret.getBytes(StandardCharsets.UTF_8),
          sandbox.clientSecret().getBytes(StandardCharsets.UTF_8))) {
        error(ctx, "7000215", vars);
        return;
      }
      appidacr = "1";
    } else if (assertion != null) {
      if (!JWT_BEARER.equals(assertionType)) {
        error(ctx, "9002313", vars); // GUESS: unknown or missing client_assertion_type
        return;
      }
      String failure = checkAssertion(assertion, tenant, vars);
      if (failure != null) {
        error(ctx, failure, vars);
        return;
      }
      appidacr = "2";
    } else {
      error(ctx, "7000218", vars);
      return;
    }

    try {
      long lifetime = sandbox.faults().tokenLifetimeOr(sandbox.options().tokenLifetime()).toSeconds();
      String token = issue(audience, appidacr, lifetime);
      ctx.response().putHeader("Cache-Control", "no-store, no-cache").putHeader("Pragma", "no-cache");
      json(ctx, 200, new JsonObject().put("token_type", "Bearer").put("expires_in", lifetime)
          .put("ext_expires_in", lifetime).put("access_token", token));
    } catch (GeneralSecurityException e) {
      ctx.fail(e);
    }
  }

  /** Whether a token for this audience is a Microsoft Graph token (else an Exchange Online one). */
  static boolean isGraphAudience(String audience) {
    return GRAPH.equalsIgnoreCase(audience);
  }

  /** As {@link #isGraphAudience(String)}, and the sandbox's own Graph origin counts as Graph too. */
  private boolean graphAudience(String audience) {
    return isGraphAudience(audience) || sandbox.graphOrigin().equalsIgnoreCase(audience);
  }

  /** The audience for a requested resource, or null if the tenant does not know it. */
  private String knownResource(String resource) {
    String r = resource.endsWith("/") ? resource.substring(0, resource.length() - 1) : resource;
    for (String known : List.of(OUTLOOK, sandbox.ewsOrigin(), GRAPH, sandbox.graphOrigin())) {
      if (r.equalsIgnoreCase(known)) {
        return known;
      }
    }
    return null;
  }

  /** Checks a certificate client assertion (§1.2); null if valid, else the AADSTS code (vars get the details). */
  private String checkAssertion(String compact, String tenant, Map<String, String> vars) {
    Jwt jwt;
    try {
      jwt = Jwt.parse(compact);
    } catch (Jwt.MalformedJwtException e) {
      return "50027";
    }
    try {
      byte[] s256 = thumbprint(jwt.header().getValue("x5t#S256"));
      byte[] s1 = thumbprint(jwt.header().getValue("x5t"));
      String presented = s256 != null ? hex(s256) : s1 != null ? hex(s1) : "";
      vars.put("thumbprint", presented);
      boolean keyFound = s256 != null ? MessageDigest.isEqual(s256, sandbox.pki().clientThumbprintSha256())
          : s1 != null && MessageDigest.isEqual(s1, sandbox.pki().clientThumbprintSha1());
      if (!keyFound) {
        vars.put("reason", "The key was not found.");
        return "700027";
      }
    } catch (IllegalArgumentException | GeneralSecurityException e) {
      vars.put("reason", "The key was not found.");
      return "700027";
    }
    if (!jwt.verifiesWith(sandbox.pki().clientCert.getPublicKey())) {
      vars.put("reason", "The provided signature value did not match the expected signature value.");
      return "700027";
    }
    if (!sandbox.clientId().equalsIgnoreCase(jwt.string("iss"))
        || !sandbox.clientId().equalsIgnoreCase(jwt.string("sub"))) {
      return "700021";
    }
    if (!audienceOk(jwt.claims().getValue("aud"), tenant)) {
      return "700023";
    }
    Long exp = jwt.numericDate("exp");
    Long nbf = jwt.numericDate("nbf");
    if (exp == null) {
      return "50027";
    }
    long now = Instant.now().getEpochSecond();
    long skew = ASSERTION_SKEW.toSeconds();
    if (now > exp + skew || (nbf != null && now < nbf - skew)) {
      vars.put("now", Instant.ofEpochSecond(now).toString());
      vars.put("nbf", nbf == null ? "" : Instant.ofEpochSecond(nbf).toString());
      vars.put("exp", Instant.ofEpochSecond(exp).toString());
      return "700024";
    }
    return null;
  }

  /** aud must be this token URL (any of the sandbox's host names, or the global login host) for this tenant. */
  private boolean audienceOk(Object aud, String tenant) {
    if (!(aud instanceof String a)) {
      return false;
    }
    String path = "/" + tenant + "/oauth2/v2.0/token";
    List<String> origins = new ArrayList<>(sandbox.loginOrigins());
    origins.add("https://login.microsoftonline.com");
    for (String o : origins) {
      if (a.equalsIgnoreCase(o + path) || a.equalsIgnoreCase(o + "/" + tenant + "/oauth2/token")) {
        return true;
      }
    }
    return false;
  }

  /** msal writes the thumbprint in standard base64, RFC 7515 says base64url: accept both. */
  private static byte[] thumbprint(Object v) {
    if (!(v instanceof String s) || s.isEmpty()) {
      return null;
    }
    return s.indexOf('+') >= 0 || s.indexOf('/') >= 0 || s.endsWith("=")
        ? Base64.getDecoder().decode(s) : Base64.getUrlDecoder().decode(s);
  }

  private String issue(String audience, String appidacr, long lifetime) throws GeneralSecurityException {
    long now = Instant.now().getEpochSecond();
    String tid = sandbox.tenantId();
    String jti = UUID.randomUUID().toString();
    JsonObject header = new JsonObject().put("typ", "JWT").put("alg", "RS256").put("kid", sandbox.tokenKeyId())
        .put("x5t", sandbox.tokenKeyId());
    JsonObject claims = new JsonObject()
        .put("aud", audience)
        .put("iss", "https://sts.windows.net/" + tid + "/")
        .put("iat", now).put("nbf", now - 300).put("exp", now + lifetime) // Entra back-dates nbf by 5 minutes
        .put("app_displayname", "relay365 sandbox")
        .put("appid", sandbox.clientId())
        .put("appidacr", appidacr)
        .put("idp", "https://sts.windows.net/" + tid + "/")
        .put("idtyp", "app")
        .put("oid", SERVICE_PRINCIPAL_OID)
        .put("roles", new JsonArray(new ArrayList<>(sandbox.faults().roles(graphAudience(audience) ? GRAPH : audience))))
        .put("sub", SERVICE_PRINCIPAL_OID)
        .put("tid", tid)
        .put("uti", jti)
        .put("jti", jti)
        .put("ver", "1.0");
    return Jwt.sign(header, claims, sandbox.pki().tokenKeys.getPrivate());
  }

  private void error(RoutingContext ctx, String code, Map<String, String> vars) {
    AadError.Kind k = AadError.kind(code);
    json(ctx, k.status(), AadError.body(code, sandbox.loginUrl(), vars));
  }

  private static void json(RoutingContext ctx, int status, JsonObject body) {
    ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json; charset=utf-8")
        .end(body.encode());
  }

  private static Map<String, String> with(Map<String, String> vars, String k, String v) {
    vars.put(k, v);
    return vars;
  }

  private static String first(Map<String, List<String>> m, String name) {
    List<String> v = m.get(name);
    return v == null || v.isEmpty() ? null : v.get(0);
  }

  private static String hex(byte[] b) {
    StringBuilder sb = new StringBuilder();
    for (byte x : b) {
      sb.append(String.format("%02X", x));
    }
    return sb.toString();
  }
}
