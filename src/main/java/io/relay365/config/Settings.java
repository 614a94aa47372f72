package io.relay365.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The effective configuration of one relay, after the YAML file and the RELAY365_* environment
 * variables have been merged and every value checked. Immutable; built only by {@link SettingsLoader}.
 * Each key, its default and its meaning are documented in conf/relay365.yaml.
 */
public record Settings(Smtp smtp, Spool spool, Microsoft microsoft, Ews ews, Sender sender, Delivery delivery,
    Admin admin, Graph graph, SmtpOauth smtpOauth) {

  /** Without graph.* and smtp-oauth.* (their defaults), as before those transports existed. */
  public Settings(Smtp smtp, Spool spool, Microsoft microsoft, Ews ews, Sender sender, Delivery delivery,
      Admin admin) {
    this(smtp, spool, microsoft, ews, sender, delivery, admin, Graph.DEFAULT, SmtpOauth.DEFAULT);
  }

  /** smtp.*: the listener the devices talk to. */
  public record Smtp(
      String listenHost,          // smtp.listen, host part (default 127.0.0.1)
      int listenPort,             // smtp.listen, port part (default 2525; 0 = ephemeral, tests only)
      String hostname,            // smtp.hostname: banner, EHLO and Received: by (default: local host name)
      long maxMessageSize,        // smtp.max-message-size (default 35 MB: Exchange Online's default send limit)
      int maxRecipients,          // smtp.max-recipients (default 100)
      int maxConnections,         // smtp.max-connections (default 50)
      Duration timeout,           // smtp.timeout: idle time per command before 421 (default 5m, RFC 5321 4.5.3.2)
      Duration sessionTimeout,    // smtp.session-timeout: longest connection, whatever it does (default 30m)
      int maxConnectionsPerClient, // smtp.max-connections-per-client (default 10)
      int maxErrors,              // smtp.max-errors: 5xx replies in one connection before 421 and close (default 10)
      int maxLineLength,          // smtp.max-line-length: longest command line with CRLF (default 1000)
      BareLf bareLf,              // smtp.bare-lf: normalize (default) | reject
      List<Cidr> allowedNetworks, // smtp.allowed-networks: may relay without AUTH (default 127.0.0.0/8, ::1)
      Tls tls,                    // smtp.tls.*; null = no TLS
      Auth auth,                  // smtp.auth.*; null = no AUTH
      Senders senders) {          // smtp.allowed-senders (default: no restriction)

    /** The defaults of every setting after the first seven (the loader's defaults). */
    public Smtp(String listenHost, int listenPort, String hostname, long maxMessageSize, int maxRecipients,
        int maxConnections, Duration timeout) {
      this(listenHost, listenPort, hostname, maxMessageSize, maxRecipients, maxConnections, timeout,
          Duration.ofMinutes(30), Math.min(10, maxConnections), 10, 1000, BareLf.NORMALIZE, LOOPBACK, null, null,
          Senders.NONE);
    }

    /** 127.0.0.0/8 and ::1: this host only. */
    public static final List<Cidr> LOOPBACK = List.of(Cidr.parse("127.0.0.0/8"), Cidr.parse("::1"));

    public Smtp withAllowedNetworks(List<Cidr> networks) {
      return new Smtp(listenHost, listenPort, hostname, maxMessageSize, maxRecipients, maxConnections, timeout,
          sessionTimeout, maxConnectionsPerClient, maxErrors, maxLineLength, bareLf, networks, tls, auth, senders);
    }

    public Smtp withTls(Tls t) {
      return new Smtp(listenHost, listenPort, hostname, maxMessageSize, maxRecipients, maxConnections, timeout,
          sessionTimeout, maxConnectionsPerClient, maxErrors, maxLineLength, bareLf, allowedNetworks, t, auth, senders);
    }

    public Smtp withAuth(Auth a) {
      return new Smtp(listenHost, listenPort, hostname, maxMessageSize, maxRecipients, maxConnections, timeout,
          sessionTimeout, maxConnectionsPerClient, maxErrors, maxLineLength, bareLf, allowedNetworks, tls, a, senders);
    }

    public Smtp withSenders(Senders s) {
      return new Smtp(listenHost, listenPort, hostname, maxMessageSize, maxRecipients, maxConnections, timeout,
          sessionTimeout, maxConnectionsPerClient, maxErrors, maxLineLength, bareLf, allowedNetworks, tls, auth, s);
    }

    public Smtp withLimits(Duration session, int perClient, int errors, int lineLength, BareLf lf) {
      return new Smtp(listenHost, listenPort, hostname, maxMessageSize, maxRecipients, maxConnections, timeout,
          session, perClient, errors, lineLength, lf, allowedNetworks, tls, auth, senders);
    }
  }

  /** smtp.bare-lf: what to do with a CR or LF that is not part of a CRLF pair inside DATA. */
  public enum BareLf { NORMALIZE, REJECT }

  /** smtp.tls.*: PEM certificate chain and key; implicitHost null = no implicit-TLS listener. */
  public record Tls(
      Path certFile,              // smtp.tls.cert-file
      Path keyFile,               // smtp.tls.key-file (may be the same file)
      String implicitHost,        // smtp.tls.implicit-listen, host part; null = none
      int implicitPort,           // smtp.tls.implicit-listen, port part (0 = ephemeral, tests only)
      boolean required) {}        // smtp.tls.required: every command but EHLO/HELO/STARTTLS/NOOP/QUIT needs TLS

  /** smtp.auth.*: SMTP AUTH PLAIN/LOGIN against a users file. */
  public record Auth(
      Path usersFile,             // smtp.auth.users-file
      List<Cidr> plainNetworks,   // smtp.auth.without-tls-networks: may AUTH before STARTTLS (default none)
      Duration failureDelay) {}   // smtp.auth.failure-delay: first delay after a failure, doubling (default 1s)

  /**
   * smtp.allowed-senders: envelope senders allowed per AUTH user ("user:NAME" keys) and per client
   * network. Values are addresses, "@domain" or "<>" (the null sender); lower-case, domains in ASCII.
   */
  public record Senders(Map<String, List<String>> byUser, Map<Cidr, List<String>> byNetwork) {
    public static final Senders NONE = new Senders(Map.of(), Map.of());
  }

  /** spool.*: where accepted mail waits, and when to stop accepting more (back-pressure). */
  public record Spool(
      Path dir,                   // spool.dir (default /var/lib/relay365/spool)
      int maxMessages,            // spool.max-messages: queued messages above which MAIL FROM gets 452 4.3.1 (default 10000)
      long minFreeDisk) {}        // spool.min-free-disk: free bytes below which MAIL FROM gets 452 4.3.1 (default 1.5 x smtp.max-message-size)

  /** microsoft.*: the Entra ID app registration and how to reach the token endpoint. */
  public record Microsoft(
      String tenantId,            // microsoft.tenant-id (GUID or verified domain)
      String clientId,            // microsoft.client-id (application id GUID)
      Secret clientSecret,        // microsoft.client-secret or the contents of microsoft.client-secret-file; null with a certificate
      Certificate certificate,    // microsoft.certificate.*; null with a secret
      String loginUrl,            // microsoft.login-url (default https://login.microsoftonline.com)
      Path caFile,                // microsoft.ca-file: extra PEM CAs trusted besides the system's; null = none
      String scope,               // microsoft.scope (default: the resource of delivery.transport + "/.default")
      Duration timeout,           // microsoft.timeout: connect/read timeout of token requests (default 30s)
      java.time.LocalDate secretExpires) { // microsoft.secret-expires: the client secret's expiry date, for warnings; null = not set

    /** Without microsoft.secret-expires (as before it existed). */
    public Microsoft(String tenantId, String clientId, Secret clientSecret, Certificate certificate, String loginUrl,
        Path caFile, String scope, Duration timeout) {
      this(tenantId, clientId, clientSecret, certificate, loginUrl, caFile, scope, timeout, null);
    }
  }

  /** microsoft.certificate.*: PKCS#12 (file + password) or PEM (file holds cert, key-file holds key; key may be in file too). */
  public record Certificate(Path file, Path keyFile, Secret password) {}

  /** ews.*: Exchange Web Services. */
  public record Ews(
      String url,                 // ews.url (default https://outlook.office365.com/EWS/Exchange.asmx)
      Disposition disposition,    // ews.disposition: send-and-save-copy (default) | send-only
      int workers,                // ews.workers: size of the blocking EWS worker pool (default 8)
      Duration timeout) {}        // ews.timeout: per request (default 100s)

  public enum Disposition { SEND_AND_SAVE_COPY, SEND_ONLY }

  /**
   * delivery.transport: how messages reach Exchange. EWS ends in Exchange Online on 1 April 2027
   * (microsoft-wire.md §2.9); Graph and SMTP submission are the ways forward. Everything else (spool,
   * retries, limits, sender mapping, metrics, doctor, queue tool) is the same for each.
   */
  public enum TransportKind {
    /** EWS CreateItem with the raw MIME (token resource: Exchange Online, role full_access_as_app). */
    EWS("ews"),
    /** Microsoft Graph sendMail with the base64 MIME (token resource: Graph, role Mail.Send). */
    GRAPH("graph"),
    /** SMTP submission with AUTH XOAUTH2 (token resource: Exchange Online, role SMTP.SendAsApp). */
    SMTP_OAUTH("smtp-oauth");

    private final String key;

    TransportKind(String key) {
      this.key = key;
    }

    /** The value as written in the configuration: ews, graph, smtp-oauth. */
    public String key() {
      return key;
    }

    @Override
    public String toString() {
      return key;
    }
  }

  /** graph.*: Microsoft Graph, for delivery.transport: graph. */
  public record Graph(
      String url,                 // graph.url: the Graph origin (default https://graph.microsoft.com; national clouds differ)
      Duration timeout,           // graph.timeout: per request (default 100s)
      long maxRequestSize) {      // graph.max-request-size: largest sendMail request; larger mail takes the draft path (default 4MB)

    /** Graph's request limit, "about 4 MB" (microsoft-wire.md §3; GUESS: the exact figure is unpublished). */
    public static final long DEFAULT_MAX_REQUEST_SIZE = 4L * 1024 * 1024;

    public static final Graph DEFAULT = new Graph("https://graph.microsoft.com", Duration.ofSeconds(100),
        DEFAULT_MAX_REQUEST_SIZE);

    /** With the default graph.max-request-size. */
    public Graph(String url, Duration timeout) {
      this(url, timeout, DEFAULT_MAX_REQUEST_SIZE);
    }
  }

  /** smtp-oauth.*: SMTP submission with XOAUTH2, for delivery.transport: smtp-oauth. */
  public record SmtpOauth(
      String host,                // smtp-oauth.server, host part (default smtp.office365.com)
      int port,                   // smtp-oauth.server, port part (default 587; STARTTLS is required)
      Duration timeout) {         // smtp-oauth.timeout: connect and per-reply timeout (default 100s)

    public static final SmtpOauth DEFAULT = new SmtpOauth("smtp.office365.com", 587, Duration.ofSeconds(100));
  }

  /** sender.*: which mailbox each message is sent as. */
  public record Sender(
      SenderMode mode,            // sender.mode: envelope (default) | from-header | fixed | map
      String fixedMailbox,        // sender.fixed-mailbox: the mailbox for mode fixed
      Map<String, String> map,    // sender.map: address or @domain -> mailbox, for mode map
      String defaultMailbox) {}   // sender.default-mailbox: for the null sender <> and unmapped senders; null = none

  public enum SenderMode { ENVELOPE, FROM_HEADER, FIXED, MAP }

  /** delivery.*: the queue runner. */
  public record Delivery(
      int concurrency,            // delivery.concurrency: messages in flight at once (default 8)
      int perMailboxConcurrency,  // delivery.per-mailbox-concurrency: in flight per sending mailbox (default 4)
      int perMailboxRate,         // delivery.per-mailbox-rate: messages per minute per sending mailbox (default 30)
      Duration minBackoff,        // delivery.min-backoff: shortest wait before a retry (default 1m)
      Duration maxBackoff,        // delivery.max-backoff: longest wait before a retry (default 30m)
      Duration maxLifetime,       // delivery.max-lifetime: time in the queue before a dead letter (default 5d)
      boolean dsn,                // delivery.dsn: send a failure notice (RFC 3464) to the sender of a dead letter (default false)
      String postmaster,          // delivery.postmaster: mailbox that sends those notices; required with dsn
      TransportKind transport) {  // delivery.transport: ews (default) | graph | smtp-oauth

    /** With delivery.transport: ews, as before the other transports existed. */
    public Delivery(int concurrency, int perMailboxConcurrency, int perMailboxRate, Duration minBackoff,
        Duration maxBackoff, Duration maxLifetime, boolean dsn, String postmaster) {
      this(concurrency, perMailboxConcurrency, perMailboxRate, minBackoff, maxBackoff, maxLifetime, dsn, postmaster,
          TransportKind.EWS);
    }
  }

  /** admin.*: the HTTP listener for health checks, metrics and the status page. */
  public record Admin(
      boolean enabled,            // admin.listen: "off" disables the listener
      String listenHost,          // admin.listen, host part (default 127.0.0.1)
      int listenPort,             // admin.listen, port part (default 8025; 0 = ephemeral, tests only)
      Secret token) {}            // admin.token or the contents of admin.token-file; null = no token required

  /**
   * A secret value that never prints itself: toString() is masked so that it cannot leak
   * into a log line or an exception message by accident.
   */
  public static final class Secret {
    private final String value;

    public Secret(String value) {
      this.value = value;
    }

    public String reveal() {
      return value;
    }

    @Override
    public String toString() {
      return "********";
    }
  }
}
