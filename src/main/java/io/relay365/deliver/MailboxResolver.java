package io.relay365.deliver;

import io.relay365.config.Settings;
import io.relay365.store.Envelope;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Decides which mailbox a message is sent as (impersonated) from sender.*. With app-only EWS the
 * relay may impersonate any mailbox the app is allowed to, and a From: other than the impersonated
 * mailbox needs SendAs (else ErrorSendAsDenied, microsoft-wire.md §2.8), so the choice matters.
 *
 * <ul>
 *   <li>ENVELOPE: MAIL FROM;
 *   <li>FROM_HEADER: the first address of the top-level From: header;
 *   <li>FIXED: sender.fixed-mailbox, always;
 *   <li>MAP: sender.map on the envelope sender: exact address first, then "@domain", case-insensitive.
 * </ul>
 * The null sender {@code <>} (bounces, RFC 5321 §4.5.5), a missing From: and an unmapped sender use
 * sender.default-mailbox; without one the result is a CONFIGURATION outcome, so the mail stays queued
 * until an administrator sets one.
 */
public final class MailboxResolver {
  private final Settings.Sender sender;
  private final Map<String, String> map = new HashMap<>();

  public MailboxResolver(Settings.Sender sender) {
    this.sender = sender;
    if (sender.map() != null) {
      sender.map().forEach((k, v) -> map.put(k.strip().toLowerCase(Locale.ROOT), v.strip()));
    }
  }

  /** Either a mailbox or the outcome that explains why there is none. */
  public record Resolution(String mailbox, Outcome failure) {

    public static Resolution of(String mailbox) {
      return new Resolution(mailbox, null);
    }

    public static Resolution failed(Outcome failure) {
      return new Resolution(null, failure);
    }

    public boolean resolved() {
      return mailbox != null;
    }
  }

  /** Whether {@link #resolve} reads the message's headers (FROM_HEADER); else they may be null. */
  public boolean needsHeaders() {
    return sender.mode() == Settings.SenderMode.FROM_HEADER;
  }

  /**
   * @param headers the message's top-level headers; only read in FROM_HEADER mode (may be null otherwise)
   */
  public Resolution resolve(Envelope env, MessageHeaders headers) {
    switch (sender.mode()) {
      case FIXED:
        return Resolution.of(sender.fixedMailbox());
      case FROM_HEADER: {
        String from = headers == null ? null : headers.fromAddress();
        if (from == null || !from.contains("@")) {
          return orDefault("no usable address in the From: header and no sender.default-mailbox");
        }
        return Resolution.of(from);
      }
      case MAP: {
        if (env.nullSender()) {
          return orDefault("null sender and no sender.default-mailbox");
        }
        String key = env.sender().strip().toLowerCase(Locale.ROOT);
        String mailbox = map.get(key);
        if (mailbox == null) {
          int at = key.lastIndexOf('@');
          mailbox = at >= 0 ? map.get(key.substring(at)) : null;
        }
        if (mailbox == null) {
          return orDefault("sender " + env.sender() + " matches no entry in sender.map and there is no"
              + " sender.default-mailbox");
        }
        return Resolution.of(mailbox);
      }
      case ENVELOPE:
      default:
        if (env.nullSender()) {
          return orDefault("null sender and no sender.default-mailbox");
        }
        return Resolution.of(env.sender());
    }
  }

  private Resolution orDefault(String why) {
    String def = sender.defaultMailbox();
    if (def != null && !def.isBlank()) {
      return Resolution.of(def);
    }
    return Resolution.failed(Outcome.configuration("sender", why));
  }
}
