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
public record Settings(Smtp smtp, Spool spool, Microsoft microsoft, Ews ews, Sender sender, Delivery delivery) {

  /** smtp.*: the listener the devices talk to. */
  public record Smtp(
      String listenHost,          // smtp.listen, host part (default 127.0.0.1)
      int listenPort,             // smtp.listen, port part (default 2525; 0 = ephemeral, tests only)
      String hostname,            // smtp.hostname: banner, EHLO and Received: by (default: local host name)
      long maxMessageSize,        // smtp.max-message-size (default 35 MB: Exchange Online's default send limit)
      int maxRecipients,          // smtp.max-recipients (default 100)
      int maxConnections,         // smtp.max-connections (default 50)
      Duration timeout) {}        // smtp.timeout: idle time per command before 421 (default 5m, RFC 5321 4.5.3.2)

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
      String scope,               // microsoft.scope (default: the EWS URL's origin + "/.default")
      Duration timeout) {}        // microsoft.timeout: connect/read timeout of token requests (default 30s)

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
      int perMailboxConcurrency,  // delivery.per-mailbox-concurrency: in flight per sending mailbox (default 4)
      int perMailboxRate,         // delivery.per-mailbox-rate: messages per minute per sending mailbox (default 30)
      Duration minBackoff,        // delivery.min-backoff: shortest wait before a retry (default 1m)
      Duration maxBackoff,        // delivery.max-backoff: longest wait before a retry (default 30m)
      Duration maxLifetime,       // delivery.max-lifetime: time in the queue before a dead letter (default 5d)
      boolean dsn,                // delivery.dsn: send a failure notice (RFC 3464) to the sender of a dead letter (default false)
      String postmaster) {}       // delivery.postmaster: mailbox that sends those notices; required with dsn

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
