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
    Admin admin) {

  /** smtp.*: the listener the devices talk to. */
  public record Smtp(
      String listenHost,          // smtp.listen, host part (default 127.0.0.1)
      int listenPort,             // smtp.listen, port part (default 2525; 0 = ephemeral, tests only)
      String hostname,            // smtp.hostname: banner, EHLO and Received: by (default: local host name)
      long maxMessageSize,        // smtp.max-message-size (default 35 MB: Exchange Online's default send limit)
      int maxRecipients,          // smtp.max-recipients (default 100)
      int maxConnections,         // smtp.max-connections (default 50)
      Duration timeout) {}        // smtp.timeout: idle time per command before 421 (default 5m, RFC 5321 4.5.3.2)

  /** spool.*: where accepted mail waits. */
  public record Spool(Path dir) {} // spool.dir (default /var/lib/relay365/spool)

  /** microsoft.*: the Entra ID app registration and how to reach the token endpoint. */
  public record Microsoft(
      String tenantId,            // microsoft.tenant-id (GUID or verified domain)
      String clientId,            // microsoft.client-id (application id GUID)
      Secret clientSecret,        // microsoft.client-secret or the contents of microsoft.client-secret-file; null with a certificate
      Certificate certificate,    // microsoft.certificate.*; null with a secret
      String loginUrl,            // microsoft.login-url (default https://login.microsoftonline.com)
      Path caFile,                // microsoft.ca-file: extra PEM CAs trusted besides the system's; null = none
      String scope,               // microsoft.scope (default: the EWS URL's origin + "/.default")
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
      Duration retryDelay) {}     // delivery.retry-delay: wait after a failed attempt (default 1m)

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
