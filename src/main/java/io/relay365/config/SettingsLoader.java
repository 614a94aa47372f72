package io.relay365.config;

import io.relay365.config.Settings.Certificate;
import io.relay365.config.Settings.Delivery;
import io.relay365.config.Settings.Disposition;
import io.relay365.config.Settings.Ews;
import io.relay365.config.Settings.Microsoft;
import io.relay365.config.Settings.Secret;
import io.relay365.config.Settings.Sender;
import io.relay365.config.Settings.SenderMode;
import io.relay365.config.Settings.Smtp;
import io.relay365.config.Settings.Spool;
import io.relay365.tls.Pem;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.StringJoiner;

/**
 * Builds {@link Settings} from the YAML file and the RELAY365_* environment variables, checking
 * every value once at start-up so that the relay either starts with a configuration that works or
 * refuses with one line saying which key to fix and how (chasquid's "hard to misconfigure").
 */
public final class SettingsLoader {
  private SettingsLoader() {}

  /**
   * RELAY365_* variables that are not settings (read by the command line, not by this loader), so
   * that they are not refused as unknown. Every other RELAY365_* variable must name a setting:
   * a misspelt one is an error rather than silently ignored.
   */
  public static final Set<String> NOT_SETTINGS = Set.of("RELAY365_CONFIG", "RELAY365_LOG_LEVEL");

  static final String DEFAULT_EWS_URL = "https://outlook.office365.com/EWS/Exchange.asmx";
  static final String DEFAULT_LOGIN_URL = "https://login.microsoftonline.com";
  /** Exchange Online's largest configurable message size (microsoft-wire.md §5). */
  static final long EXCHANGE_MAX_MESSAGE = 150 * Values.MB;
  private static final Duration MAX_DURATION = Duration.ofDays(1);

  /**
   * Loads the YAML file (null = defaults + environment only), then applies RELAY365_* environment
   * variables, which win over the file key by key; an empty variable unsets the file's value.
   *
   * @throws ConfigException one line naming the key, what is wrong and how to fix it
   */
  public static Settings load(Path yamlFile, Map<String, String> environment) throws ConfigException {
    JsonObject yaml = yamlFile == null ? null : YamlFile.read(yamlFile);
    Source src = Source.of(yaml, environment == null ? Map.of() : environment);
    return build(src, environment == null ? Map.of() : environment, Instant.now());
  }

  static Settings build(Source src, Map<String, String> environment, Instant now) {
    Smtp smtp = smtp(src, environment);
    Spool spool = spool(src, smtp);
    Ews ews = ews(src);
    Settings.Graph graph = graph(src);
    Settings.SmtpOauth smtpOauth = smtpOauth(src);
    Delivery delivery = delivery(src);
    Microsoft microsoft = microsoft(src, defaultScope(delivery.transport(), ews, graph), now);
    if (src.string("microsoft.scope") != null) {
      scopeFitsTransport(microsoft.scope(), delivery.transport(), ews, graph);
    }
    Sender sender = sender(src);
    return new Settings(smtp, spool, microsoft, ews, sender, delivery, admin(src), graph, smtpOauth);
  }

  /**
   * admin.*: loopback by default. Anything else must carry a token: the status page names mailboxes
   * and recipients, and nothing that can reach the port should read them without one.
   */
  private static Settings.Admin admin(Source src) {
    String listen = orDefault(src.string("admin.listen"), "127.0.0.1:8025");
    boolean inline = src.isSet("admin.token");
    boolean file = src.isSet("admin.token-file");
    if (inline && file) {
      throw new ConfigException("admin.token", "is set together with admin.token-file; keep one (the file is safer)");
    }
    Secret token = null;
    if (inline) {
      String t = src.string("admin.token");
      token = t == null ? null : new Secret(t);
    } else if (file) {
      token = new Secret(Credentials.readSecretFile("admin.token-file", src.path("admin.token-file"), false));
    }
    if (token != null && token.reveal().length() < 16) {
      throw new ConfigException("admin.token", "is shorter than 16 characters (value not shown); use a long random"
          + " one, e.g. `openssl rand -hex 32`");
    }
    if (listen.equalsIgnoreCase("off") || listen.equalsIgnoreCase("none")) {
      return new Settings.Admin(false, null, 0, token);
    }
    String[] hp = listen(src, "admin.listen", listen, "127.0.0.1:8025");
    String host = hp[0];
    if (token == null && !isLoopback(host)) {
      throw src.bad("admin.listen", "is not a loopback address, and no admin.token-file is set; the status page"
          + " shows mailboxes and recipients, so set admin.token-file (a long random token) or listen on"
          + " 127.0.0.1");
    }
    return new Settings.Admin(true, host, Integer.parseInt(hp[1]), token);
  }

  private static boolean isLoopback(String host) {
    return host.equals("localhost") || host.startsWith("127.") || host.equals("::1");
  }

  private static Spool spool(Source src, Smtp smtp) {
    Path dir = orDefault(src.path("spool.dir"), Path.of("/var/lib/relay365/spool"));
    if (Files.exists(dir) && !Files.isDirectory(dir)) {
      throw src.bad("spool.dir", "is a file, not a directory; point it at a directory (it is created if missing)");
    }
    int maxMessages = orDefault(src.integer("spool.max-messages", 1, 10_000_000, ""), 10_000);
    // Postfix's queue_minfree rule: room for at least one more message and a half (models.md).
    long minFree = smtp.maxMessageSize() + smtp.maxMessageSize() / 2;
    Object v = src.scalar("spool.min-free-disk");
    if (v != null) {
      Long parsed = Values.size(v);
      if (parsed == null || parsed < 0) {
        throw src.bad("spool.min-free-disk", "is not a size; write e.g. 100MB or 1GB (0 turns the check off)");
      }
      minFree = parsed;
    }
    return new Spool(dir, maxMessages, minFree);
  }

  private static Delivery delivery(Source src) {
    Duration min = duration(src, "delivery.min-backoff", Duration.ofMinutes(1));
    Duration max = duration(src, "delivery.max-backoff", Duration.ofMinutes(30));
    if (max.compareTo(min) < 0) {
      throw src.bad("delivery.max-backoff", "is shorter than delivery.min-backoff (" + Values.formatDuration(min)
          + "); make it at least as long");
    }
    Duration lifetime = duration(src, "delivery.max-lifetime", Duration.ofDays(5), Duration.ofDays(60));
    if (lifetime.compareTo(min) < 0) {
      throw src.bad("delivery.max-lifetime", "is shorter than delivery.min-backoff (" + Values.formatDuration(min)
          + "); a message would die before its first retry");
    }
    boolean dsn = orDefault(src.bool("delivery.dsn"), false);
    String postmaster = src.string("delivery.postmaster");
    if (postmaster != null && !Values.isAddress(postmaster)) {
      throw src.bad("delivery.postmaster", "is not a mailbox address; write e.g. postmaster@example.com");
    }
    if (dsn && postmaster == null) {
      throw new ConfigException("delivery.postmaster", "is not set, but delivery.dsn is true; set it to the mailbox"
          + " that sends failure notices, e.g. postmaster@example.com (the app must be allowed to send as it)");
    }
    return new Delivery(
        orDefault(src.integer("delivery.concurrency", 1, 1024, ""), 8),
        orDefault(src.integer("delivery.per-mailbox-concurrency", 1, 1024,
            " (Exchange Online allows 27 concurrent EWS requests per mailbox; Microsoft advises 10 at most)"), 4),
        orDefault(src.integer("delivery.per-mailbox-rate", 1, 1_000_000,
            " (messages per minute; Exchange Online's limit is 30)"), 30),
        min, max, lifetime, dsn, postmaster, transport(src));
  }

  private static Smtp smtp(Source src, Map<String, String> environment) {
    String host = "127.0.0.1";
    int port = 2525;
    String listen = src.string("smtp.listen");
    if (listen != null) {
      String[] hp = listen(src, "smtp.listen", listen, "127.0.0.1:2525");
      host = hp[0];
      port = Integer.parseInt(hp[1]);
    }
    String hostname = src.string("smtp.hostname");
    if (hostname == null) {
      hostname = localHostName(environment);
    } else if (!Values.isHostName(hostname)) {
      throw src.bad("smtp.hostname", "is not a host name; write this host's DNS name, e.g. relay.example.com"
          + " (it is shown in the SMTP banner and the Received: header)");
    }
    Object sizeValue = src.scalar("smtp.max-message-size");
    long size = 35 * Values.MB;
    if (sizeValue != null) {
      Long parsed = Values.size(sizeValue);
      if (parsed == null) {
        throw src.bad("smtp.max-message-size", "is not a size; write e.g. 35MB, 512KB or 36700160 (bytes;"
            + " 1MB = 1024 KB)");
      }
      if (parsed <= 0 || parsed > EXCHANGE_MAX_MESSAGE) {
        throw src.bad("smtp.max-message-size", "is out of range; use 1KB..150MB (Exchange Online refuses"
            + " anything above 150 MB, and 0 does not mean unlimited here)");
      }
      size = parsed;
    }
    Smtp basic = new Smtp(host, port, hostname, size,
        orDefault(src.integer("smtp.max-recipients", 1, 1000,
            " (Exchange Online allows at most 1000 recipients per message, 500 by default)"), 100),
        orDefault(src.integer("smtp.max-connections", 1, 10_000, ""), 50),
        duration(src, "smtp.timeout", Duration.ofMinutes(5)));
    return SmtpGuards.load(src, basic, Instant.now());
  }

  /** host:port or [v6]:port; returns the host without brackets and the port. */
  static String[] listen(Source src, String key, String s) {
    return listen(src, key, s, "127.0.0.1:465");
  }

  static String[] listen(Source src, String key, String s, String example) {
    String forms = key.equals("smtp.listen")
        ? "; write host:port, e.g. 127.0.0.1:2525 (this host only), 0.0.0.0:25 (every IPv4 address)"
            + " or [::1]:2525 (IPv6 in brackets)"
        : "; write host:port, e.g. " + example + (key.endsWith("listen") ? " (this host only)" : "")
            + (key.equals("admin.listen") ? ", or off" : "");
    String host;
    String port;
    if (s.startsWith("[")) {
      int close = s.indexOf("]:");
      if (close < 0) {
        throw src.bad(key, "has no port after the IPv6 address" + forms);
      }
      host = s.substring(1, close);
      port = s.substring(close + 2);
      if (!Values.isIPv6(host)) {
        throw src.bad(key, "has no valid IPv6 address between the brackets" + forms);
      }
    } else {
      int colon = s.lastIndexOf(':');
      if (colon < 0) {
        throw src.bad(key, "has no port" + forms);
      }
      host = s.substring(0, colon);
      port = s.substring(colon + 1);
      if (host.contains(":")) {
        throw src.bad(key, "looks like an IPv6 address without brackets" + forms);
      }
      if (host.isEmpty() || host.equals("*")) {
        throw src.bad(key, "names no address; say which one to listen on" + forms);
      }
      if (!Values.isIPv4(host) && !Values.isHostName(host)) {
        throw src.bad(key, "has no valid address or host name before the port" + forms);
      }
    }
    if (!port.matches("\\d{1,5}") || Integer.parseInt(port) > 65535) {
      throw src.bad(key, "has no port number in 0..65535 after the ':'" + forms);
    }
    return new String[] {host, port};
  }

  /**
   * The banner name when smtp.hostname is not set, without a DNS lookup (InetAddress.getLocalHost
   * can stall start-up for the resolver timeout): $HOSTNAME, else /etc/hostname, else "relay365".
   */
  static String localHostName(Map<String, String> environment) {
    String h = environment.get("HOSTNAME");
    if (h != null && Values.isHostName(h.strip())) {
      return h.strip();
    }
    try {
      Path etc = Path.of("/etc/hostname");
      if (Files.isReadable(etc)) {
        String first = Files.readString(etc, StandardCharsets.UTF_8).strip().split("\\s+", 2)[0];
        if (Values.isHostName(first)) {
          return first;
        }
      }
    } catch (IOException | RuntimeException e) {
      // fall through to the fixed name
    }
    return "relay365";
  }

  private static Ews ews(Source src) {
    String url = orDefault(src.string("ews.url"), DEFAULT_EWS_URL);
    URI u = Values.httpsUri(url);
    if (u == null || u.getRawPath() == null || u.getRawPath().length() <= 1 || u.getRawQuery() != null
        || u.getRawFragment() != null) {
      throw src.bad("ews.url", "is not an https URL of an EWS endpoint; write e.g. " + DEFAULT_EWS_URL
          + " (https is required: the request carries a bearer token)");
    }
    String d = orDefault(src.string("ews.disposition"), "send-and-save-copy");
    Disposition disposition;
    switch (d.toLowerCase(Locale.ROOT).replace('_', '-')) {
      case "send-and-save-copy": disposition = Disposition.SEND_AND_SAVE_COPY; break;
      case "send-only": disposition = Disposition.SEND_ONLY; break;
      default:
        throw src.bad("ews.disposition", "is not a disposition; use send-and-save-copy (keep a copy in Sent Items)"
            + " or send-only");
    }
    return new Ews(url, disposition,
        orDefault(src.integer("ews.workers", 1, 64, " (Microsoft advises at most 10 EWS requests in flight"
            + " per mailbox)"), 8),
        duration(src, "ews.timeout", Duration.ofSeconds(100)));
  }

  /**
   * The token scope each transport needs when microsoft.scope is not set: one resource per token
   * (microsoft-wire.md §1.1). EWS and SMTP submission use the Exchange Online resource, taken from the
   * ews.url origin (https://outlook.office365.com, or a national cloud's); Graph uses the graph.url origin.
   */
  /** Exchange Online's resource hosts per cloud (microsoft-wire.md §1.1). */
  private static final java.util.Set<String> EXCHANGE_HOSTS = java.util.Set.of("outlook.office365.com",
      "outlook.office.com", "outlook.office365.us", "webmail.apps.mil", "partner.outlook.cn");
  /** Microsoft Graph's hosts per cloud (§1.1). */
  private static final java.util.Set<String> GRAPH_HOSTS = java.util.Set.of("graph.microsoft.com",
      "graph.microsoft.us", "dod-graph.microsoft.us", "microsoftgraph.chinacloudapi.cn");

  /**
   * A microsoft.scope set by hand for the other service (typically left over from EWS after switching to
   * graph) gets a token every request of the transport is refused with: say so at start, not per message.
   */
  static void scopeFitsTransport(String scope, Settings.TransportKind transport, Ews ews, Settings.Graph graph) {
    URI u = Values.httpsUri(scope.substring(0, scope.length() - "/.default".length()));
    if (u == null) {
      return;
    }
    String origin = Values.origin(u);
    String host = u.getHost().toLowerCase(Locale.ROOT);
    boolean exchange = EXCHANGE_HOSTS.contains(host) || origin.equals(Values.origin(URI.create(ews.url())));
    boolean isGraph = GRAPH_HOSTS.contains(host) || origin.equals(graph.url());
    String fix = " (leave microsoft.scope unset: it follows delivery.transport)";
    if (transport == Settings.TransportKind.GRAPH && exchange && !isGraph) {
      throw new ConfigException("microsoft.scope", "is " + scope + ", Exchange Online's resource, but"
          + " delivery.transport is graph: Graph refuses such tokens; remove it, or write " + graph.url()
          + "/.default" + fix);
    }
    if (transport != Settings.TransportKind.GRAPH && isGraph && !exchange) {
      throw new ConfigException("microsoft.scope", "is " + scope + ", Microsoft Graph's resource, but"
          + " delivery.transport is " + transport.key() + ": Exchange refuses such tokens; remove it, or write "
          + Values.origin(URI.create(ews.url())) + "/.default" + fix);
    }
  }

  static String defaultScope(Settings.TransportKind transport, Ews ews, Settings.Graph graph) {
    String origin = transport == Settings.TransportKind.GRAPH ? graph.url() : Values.origin(URI.create(ews.url()));
    return origin + "/.default";
  }

  private static Settings.TransportKind transport(Source src) {
    String t = src.string("delivery.transport");
    if (t == null) {
      return Settings.TransportKind.EWS;
    }
    String k = t.trim().toLowerCase(Locale.ROOT).replace('_', '-');
    for (Settings.TransportKind kind : Settings.TransportKind.values()) {
      if (kind.key().equals(k)) {
        return kind;
      }
    }
    throw src.bad("delivery.transport", "is not a transport; use ews (Exchange Web Services, until Exchange Online"
        + " turns it off on 1 April 2027), graph (Microsoft Graph sendMail) or smtp-oauth (SMTP submission with"
        + " XOAUTH2)");
  }

  private static Settings.Graph graph(Source src) {
    String url = orDefault(src.string("graph.url"), Settings.Graph.DEFAULT.url());
    URI u = Values.httpsUri(url);
    if (u == null || (u.getRawPath() != null && !u.getRawPath().isEmpty() && !u.getRawPath().equals("/"))
        || u.getRawQuery() != null || u.getRawFragment() != null) {
      throw src.bad("graph.url", "is not an https origin without a path; write " + Settings.Graph.DEFAULT.url()
          + " (or https://graph.microsoft.us for US Government, https://microsoftgraph.chinacloudapi.cn for China);"
          + " /v1.0/users/… is added by the relay");
    }
    long maxRequest = Settings.Graph.DEFAULT_MAX_REQUEST_SIZE;
    Object sizeValue = src.scalar("graph.max-request-size");
    if (sizeValue != null) {
      Long parsed = Values.size(sizeValue);
      if (parsed == null || parsed < 64 * Values.KB || parsed > 150 * Values.MB) {
        throw src.bad("graph.max-request-size", "is not a size between 64KB and 150MB; write e.g. 4MB (Graph refuses"
            + " requests above about 4 MB; larger mail is sent as a draft with its attachments uploaded)");
      }
      maxRequest = parsed;
    }
    return new Settings.Graph(Values.origin(u), duration(src, "graph.timeout", Settings.Graph.DEFAULT.timeout()),
        maxRequest);
  }

  private static Settings.SmtpOauth smtpOauth(Source src) {
    Settings.SmtpOauth d = Settings.SmtpOauth.DEFAULT;
    String host = d.host();
    int port = d.port();
    String server = src.string("smtp-oauth.server");
    if (server != null) {
      if (server.contains("://")) {
        // an outbound server, not a URL: the scheme would otherwise read as an IPv6 address
        throw src.bad("smtp-oauth.server", "is a URL; write host:port without a scheme, e.g. " + d.host() + ":"
            + d.port() + " (STARTTLS is always used)");
      }
      if (server.startsWith(":")) {
        throw src.bad("smtp-oauth.server", "names no host; write host:port, e.g. " + d.host() + ":" + d.port());
      }
      String[] hp = listen(src, "smtp-oauth.server", server, d.host() + ":" + d.port());
      host = hp[0];
      port = Integer.parseInt(hp[1]);
      if (port == 0) {
        throw src.bad("smtp-oauth.server", "has port 0; write host:port, e.g. " + d.host() + ":" + d.port());
      }
    }
    return new Settings.SmtpOauth(host, port, duration(src, "smtp-oauth.timeout", d.timeout()));
  }

  private static Microsoft microsoft(Source src, String defaultScope, Instant now) {
    String tenant = tenant(src);
    String client = src.string("microsoft.client-id");
    if (client == null) {
      throw new ConfigException("microsoft.client-id", "is missing; set the Application (client) ID from"
          + " Entra admin center → App registrations → your app → Overview" + envHint("microsoft.client-id"));
    }
    if (looksLikeSecret(client)) {
      throw new ConfigException("microsoft.client-id", "looks like a client secret, not the client ID (value not"
          + " shown); put the secret in microsoft.client-secret-file and the Application (client) ID here");
    }
    if (isPlaceholder(client) || client.equals(Values.NIL_GUID)) {
      throw src.bad("microsoft.client-id", "is still the placeholder from the example; set the Application"
          + " (client) ID from Entra admin center → App registrations → your app → Overview");
    }
    if (!Values.GUID.matcher(client).matches()) {
      throw src.bad("microsoft.client-id", "is not a GUID; set the Application (client) ID, e.g."
          + " 1b2c3d4e-0000-4000-8000-123456789abc, from Entra admin center → App registrations → Overview");
    }
    client = client.toLowerCase(Locale.ROOT);

    boolean anySecret = src.isSet("microsoft.client-secret") || src.isSet("microsoft.client-secret-file");
    boolean anyCertificate = src.isSet("microsoft.certificate.file") || src.isSet("microsoft.certificate.key-file")
        || src.isSet("microsoft.certificate.password") || src.isSet("microsoft.certificate.password-file");
    if (anySecret && anyCertificate) {
      throw new ConfigException("microsoft.certificate.file", "both a client secret and a certificate are"
          + " configured; keep exactly one credential (a certificate is the safer choice)");
    }
    Secret secret = clientSecret(src);
    Certificate certificate = certificate(src, now);
    if (secret == null && certificate == null) {
      throw new ConfigException("microsoft.client-secret-file", "no credential is configured; set"
          + " microsoft.client-secret-file (a file holding the client secret) or microsoft.certificate.file"
          + " (+ key-file), as registered in Entra admin center → App registrations → Certificates & secrets");
    }

    String login = orDefault(src.string("microsoft.login-url"), DEFAULT_LOGIN_URL);
    URI lu = Values.httpsUri(login);
    if (lu == null || (lu.getRawPath() != null && !lu.getRawPath().isEmpty() && !lu.getRawPath().equals("/"))
        || lu.getRawQuery() != null || lu.getRawFragment() != null) {
      throw src.bad("microsoft.login-url", "is not an https origin without a path; write " + DEFAULT_LOGIN_URL
          + " (or https://login.microsoftonline.us for US Government, https://login.partner.microsoftonline.cn"
          + " for China); the tenant and /oauth2/v2.0/token are added by the relay");
    }
    login = Values.origin(lu);

    Path caFile = src.path("microsoft.ca-file");
    if (caFile != null) {
      checkCaFile(src, caFile);
    }

    String scope = src.string("microsoft.scope");
    if (scope == null) {
      scope = defaultScope;
    } else if (!scope.endsWith("/.default") || scope.length() == "/.default".length() || scope.matches(".*\\s.*")) {
      throw src.bad("microsoft.scope", "is not a .default scope; app-only tokens ask for the resource followed"
          + " by /.default, e.g. https://outlook.office365.com/.default (leave it unset to derive it from"
          + " delivery.transport: ews.url's origin for ews and smtp-oauth, graph.url for graph)");
    }
    java.time.LocalDate secretExpires = src.date("microsoft.secret-expires");
    if (secretExpires != null && secret == null) {
      throw new ConfigException("microsoft.secret-expires", "is set but no client secret is configured; remove it"
          + " (a certificate's expiry is read from the certificate itself)");
    }
    return new Microsoft(tenant, client, secret, certificate, login, caFile, scope,
        duration(src, "microsoft.timeout", Duration.ofSeconds(30)), secretExpires);
  }

  private static String tenant(Source src) {
    String key = "microsoft.tenant-id";
    String t = src.string(key);
    String where = "Entra admin center → Overview → Tenant ID, or a verified domain such as contoso.onmicrosoft.com";
    if (t == null) {
      throw new ConfigException(key, "is missing; set your tenant ID (" + where + ")" + envHint(key));
    }
    if (looksLikeSecret(t)) {
      throw new ConfigException(key, "looks like a client secret, not a tenant ID (value not shown); set " + where);
    }
    if (isPlaceholder(t) || t.equals(Values.NIL_GUID)) {
      throw src.bad(key, "is still the placeholder from the example; set your tenant ID (" + where + ")");
    }
    String lower = t.toLowerCase(Locale.ROOT);
    if (lower.equals("common") || lower.equals("organizations") || lower.equals("consumers")) {
      throw src.bad(key, "is a multi-tenant alias; app-only (client credentials) tokens need one specific tenant,"
          + " and the token endpoint refuses common/organizations/consumers for them: set " + where);
    }
    if (!Values.GUID.matcher(t).matches() && !Values.isDomain(lower)) {
      throw src.bad(key, "is neither a GUID nor a domain name; set " + where);
    }
    return lower;
  }

  private static Secret clientSecret(Source src) {
    boolean inline = src.isSet("microsoft.client-secret");
    boolean file = src.isSet("microsoft.client-secret-file");
    if (inline && file) {
      throw new ConfigException("microsoft.client-secret", "is set together with microsoft.client-secret-file;"
          + " keep one (the file is safer: the secret stays out of the configuration)");
    }
    if (inline) {
      String s = src.string("microsoft.client-secret");
      return s == null ? null : new Secret(s);
    }
    if (file) {
      Path p = src.path("microsoft.client-secret-file");
      return new Secret(Credentials.readSecretFile("microsoft.client-secret-file", p, false));
    }
    return null;
  }

  private static Certificate certificate(Source src, Instant now) {
    boolean any = src.isSet("microsoft.certificate.file") || src.isSet("microsoft.certificate.key-file")
        || src.isSet("microsoft.certificate.password") || src.isSet("microsoft.certificate.password-file");
    if (!any) {
      return null;
    }
    Path file = src.path("microsoft.certificate.file");
    if (file == null) {
      throw new ConfigException("microsoft.certificate.file", "is missing while other microsoft.certificate.*"
          + " settings are set; point it at the certificate (.pem or .pfx)");
    }
    Path keyFile = src.path("microsoft.certificate.key-file");
    if (src.isSet("microsoft.certificate.password") && src.isSet("microsoft.certificate.password-file")) {
      throw new ConfigException("microsoft.certificate.password", "is set together with"
          + " microsoft.certificate.password-file; keep one");
    }
    Secret password = null;
    if (src.isSet("microsoft.certificate.password")) {
      Object raw = src.string("microsoft.certificate.password");
      password = new Secret(raw == null ? "" : raw.toString());
    } else if (src.isSet("microsoft.certificate.password-file")) {
      Path p = src.path("microsoft.certificate.password-file");
      password = new Secret(Credentials.readSecretFile("microsoft.certificate.password-file", p, true));
    }
    Certificate c = new Certificate(file, keyFile, password);
    Credentials.checkCertificate(c, now);
    return c;
  }

  private static void checkCaFile(Source src, Path caFile) {
    String key = "microsoft.ca-file";
    if (!Files.isRegularFile(caFile)) {
      throw new ConfigException(key, caFile + " does not exist or is not a file; point it at a PEM file of CA"
          + " certificates, or remove the setting to trust only the system CAs");
    }
    try {
      if (Pem.readCertificates(caFile).isEmpty()) {
        throw new ConfigException(key, caFile + " holds no PEM certificate (-----BEGIN CERTIFICATE-----);"
            + " point it at the CA certificate file");
      }
    } catch (IOException | RuntimeException e) {
      if (e instanceof ConfigException ce) {
        throw ce;
      }
      throw new ConfigException(key, caFile + " cannot be read as PEM certificates; point it at a PEM file"
          + " (-----BEGIN CERTIFICATE-----), e.g. the sandbox's ca.pem");
    }
  }

  private static Sender sender(Source src) {
    String m = orDefault(src.string("sender.mode"), "envelope");
    SenderMode mode;
    switch (m.toLowerCase(Locale.ROOT).replace('_', '-')) {
      case "envelope": mode = SenderMode.ENVELOPE; break;
      case "from-header": mode = SenderMode.FROM_HEADER; break;
      case "fixed": mode = SenderMode.FIXED; break;
      case "map": mode = SenderMode.MAP; break;
      default:
        throw src.bad("sender.mode", "is not a mode; use envelope (MAIL FROM), from-header (the From: header),"
            + " fixed (always sender.fixed-mailbox) or map (sender.map)");
    }
    String fixed = address(src, "sender.fixed-mailbox");
    String dflt = address(src, "sender.default-mailbox");
    Map<String, String> map = senderMap(src);
    if (mode == SenderMode.FIXED && fixed == null) {
      throw new ConfigException("sender.fixed-mailbox", "is missing; sender.mode fixed sends every message as"
          + " this mailbox, e.g. sender.fixed-mailbox: scanner@example.com");
    }
    if (mode != SenderMode.FIXED && fixed != null) {
      throw new ConfigException("sender.fixed-mailbox", "has no effect with sender.mode "
          + m + "; set sender.mode: fixed, or remove it");
    }
    if (mode == SenderMode.MAP && map.isEmpty()) {
      throw new ConfigException("sender.map", "is missing or empty; sender.mode map needs at least one entry,"
          + " e.g. \"@example.com\": shared@example.com");
    }
    if (mode != SenderMode.MAP && !map.isEmpty()) {
      throw new ConfigException("sender.map", "has no effect with sender.mode " + m
          + "; set sender.mode: map, or remove it");
    }
    if (mode == SenderMode.FIXED && dflt != null) {
      throw new ConfigException("sender.default-mailbox", "has no effect with sender.mode fixed (every message"
          + " goes out as sender.fixed-mailbox); remove it");
    }
    return new Sender(mode, fixed, map, dflt);
  }

  private static String address(Source src, String key) {
    String a = src.string(key);
    if (a != null && !Values.isAddress(a)) {
      throw src.bad(key, "is not a mailbox address; write e.g. scanner@example.com");
    }
    return a;
  }

  /** Keys are lower-cased (addresses are matched without regard to case); values are kept as written. */
  private static Map<String, String> senderMap(Source src) {
    Map<String, String> raw = src.map("sender.map");
    Map<String, String> out = new LinkedHashMap<>();
    if (raw == null) {
      return Collections.unmodifiableMap(out);
    }
    String where = src.where("sender.map");
    for (Map.Entry<String, String> e : raw.entrySet()) {
      String k = e.getKey().toLowerCase(Locale.ROOT);
      boolean domain = k.startsWith("@") && Values.isDomain(k.substring(1));
      if (!domain && !Values.isAddress(k)) {
        throw new ConfigException("sender.map", "key " + Messages.show(e.getKey()) + where + " is neither an"
            + " address nor @domain; write e.g. printer@example.com or \"@example.com\"");
      }
      if (!Values.isAddress(e.getValue())) {
        throw new ConfigException("sender.map", "entry " + Messages.show(e.getKey()) + where + " maps to "
            + Messages.show(e.getValue()) + ", which is not a mailbox address; write e.g. shared@example.com");
      }
      if (out.put(k, e.getValue()) != null) {
        throw new ConfigException("sender.map", "key " + Messages.show(e.getKey()) + where + " appears twice"
            + " (keys are compared without regard to case); keep one");
      }
    }
    return Collections.unmodifiableMap(out);
  }

  static Duration duration(Source src, String key, Duration dflt) {
    return duration(src, key, dflt, MAX_DURATION);
  }

  private static Duration duration(Source src, String key, Duration dflt, Duration most) {
    Object v = src.scalar(key);
    if (v == null) {
      return dflt;
    }
    Duration d = Values.duration(v);
    if (d == null) {
      throw src.bad(key, "is not a duration; write e.g. 30s, 5m, 1h, 250ms, 1m30s or a number of seconds");
    }
    if (d.isZero() || d.isNegative() || d.compareTo(most) > 0) {
      throw src.bad(key, "is out of range; use more than 0 and at most " + Values.formatDuration(most));
    }
    return d;
  }

  private static boolean isPlaceholder(String s) {
    String l = s.toLowerCase(Locale.ROOT);
    return l.startsWith("<") || l.contains("your-") || l.contains("your_") || l.contains("changeme");
  }

  /** Entra client secrets are ~40 characters with a '~' (e.g. "abc8Q~…"); GUIDs and domains never contain one. */
  private static boolean looksLikeSecret(String s) {
    return s.length() >= 30 && s.indexOf('~') >= 0;
  }

  private static String envHint(String key) {
    return " (or " + Keys.envName(key) + " in the environment)";
  }

  private static <T> T orDefault(T value, T dflt) {
    return value == null ? dflt : value;
  }

  /**
   * The effective settings, one "key = value" per line in the order of conf/relay365.yaml, for the
   * start-up log. Secrets print as ******** and unset optional settings as (not set). The secret
   * files' paths are not part of Settings, so a secret read from a file shows under its plain key.
   */
  public static String describe(Settings s) {
    StringJoiner out = new StringJoiner("\n");
    Smtp smtp = s.smtp();
    String host = smtp.listenHost().contains(":") ? "[" + smtp.listenHost() + "]" : smtp.listenHost();
    line(out, "smtp.listen", host + ":" + smtp.listenPort());
    line(out, "smtp.hostname", smtp.hostname());
    line(out, "smtp.max-message-size", Values.formatSize(smtp.maxMessageSize())
        + " (" + smtp.maxMessageSize() + " bytes)");
    line(out, "smtp.max-recipients", smtp.maxRecipients());
    line(out, "smtp.max-connections", smtp.maxConnections());
    line(out, "smtp.timeout", Values.formatDuration(smtp.timeout()));
    SmtpGuards.describe(smtp, (k, v) -> line(out, k, v));
    line(out, "spool.dir", s.spool().dir());
    line(out, "spool.max-messages", s.spool().maxMessages());
    line(out, "spool.min-free-disk", Values.formatSize(s.spool().minFreeDisk())
        + " (" + s.spool().minFreeDisk() + " bytes)");
    Microsoft ms = s.microsoft();
    line(out, "microsoft.tenant-id", ms.tenantId());
    line(out, "microsoft.client-id", ms.clientId());
    line(out, "microsoft.client-secret", ms.clientSecret() == null ? null : "********");
    line(out, "microsoft.secret-expires", ms.secretExpires());
    Certificate c = ms.certificate();
    line(out, "microsoft.certificate.file", c == null ? null : c.file());
    line(out, "microsoft.certificate.key-file", c == null ? null : c.keyFile());
    line(out, "microsoft.certificate.password", c == null || c.password() == null ? null : "********");
    line(out, "microsoft.login-url", ms.loginUrl());
    line(out, "microsoft.ca-file", ms.caFile());
    line(out, "microsoft.scope", ms.scope());
    line(out, "microsoft.timeout", Values.formatDuration(ms.timeout()));
    Ews ews = s.ews();
    line(out, "ews.url", ews.url());
    line(out, "ews.disposition", ews.disposition().name().toLowerCase(Locale.ROOT).replace('_', '-'));
    line(out, "ews.workers", ews.workers());
    line(out, "ews.timeout", Values.formatDuration(ews.timeout()));
    line(out, "graph.url", s.graph().url());
    line(out, "graph.timeout", Values.formatDuration(s.graph().timeout()));
    line(out, "graph.max-request-size", Values.formatSize(s.graph().maxRequestSize()));
    line(out, "smtp-oauth.server", s.smtpOauth().host() + ":" + s.smtpOauth().port());
    line(out, "smtp-oauth.timeout", Values.formatDuration(s.smtpOauth().timeout()));
    Sender sender = s.sender();
    line(out, "sender.mode", sender.mode().name().toLowerCase(Locale.ROOT).replace('_', '-'));
    line(out, "sender.fixed-mailbox", sender.fixedMailbox());
    StringJoiner map = new StringJoiner(", ");
    if (sender.map() != null) {
      sender.map().forEach((k, v) -> map.add(k + "=" + v));
    }
    line(out, "sender.map", map.length() == 0 ? null : map.toString());
    line(out, "sender.default-mailbox", sender.defaultMailbox());
    line(out, "delivery.transport", s.delivery().transport().key());
    line(out, "delivery.concurrency", s.delivery().concurrency());
    Delivery d = s.delivery();
    line(out, "delivery.per-mailbox-concurrency", d.perMailboxConcurrency());
    line(out, "delivery.per-mailbox-rate", d.perMailboxRate() + "/min");
    line(out, "delivery.min-backoff", Values.formatDuration(d.minBackoff()));
    line(out, "delivery.max-backoff", Values.formatDuration(d.maxBackoff()));
    line(out, "delivery.max-lifetime", Values.formatDuration(d.maxLifetime()));
    line(out, "delivery.dsn", d.dsn());
    line(out, "delivery.postmaster", d.postmaster());
    Settings.Admin admin = s.admin();
    String adminHost = admin.listenHost() != null && admin.listenHost().contains(":") ? "[" + admin.listenHost() + "]"
        : admin.listenHost();
    line(out, "admin.listen", admin.enabled() ? adminHost + ":" + admin.listenPort() : "off");
    line(out, "admin.token", admin.token() == null ? null : "********");
    return out.toString();
  }

  private static void line(StringJoiner out, String key, Object value) {
    out.add(key + " = " + (value == null ? "(not set)" : Messages.oneLine(value.toString())));
  }
}
