package io.relay365.receive;

import io.relay365.config.Cidr;
import io.relay365.config.Settings;
import java.net.InetAddress;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Who may do what (smtp.allowed-networks, smtp.auth.*, smtp.allowed-senders). Relaying without
 * authentication is allowed only from the listed networks; AUTH is offered after TLS, or in clear
 * only to the listed legacy networks. A network wider than /8 (IPv4) or /7 (IPv6) is refused here
 * too, not only by the configuration loader, so no code path can build an open relay.
 */
final class Access {
  private final List<Cidr> relayNetworks;
  private final Settings.Auth auth;
  private final boolean tls;
  private final Settings.Senders senders;

  Access(Settings.Smtp smtp) {
    for (Cidr c : smtp.allowedNetworks()) {
      if (c.isTooBroad()) {
        throw new IllegalArgumentException("smtp.allowed-networks: " + c + " would make an open relay");
      }
    }
    if (smtp.auth() != null) {
      for (Cidr c : smtp.auth().plainNetworks()) {
        if (c.isTooBroad()) {
          throw new IllegalArgumentException("smtp.auth.without-tls-networks: " + c + " is too broad");
        }
      }
    }
    this.relayNetworks = List.copyOf(smtp.allowedNetworks());
    this.auth = smtp.auth();
    this.tls = smtp.tls() != null;
    this.senders = smtp.senders() == null ? Settings.Senders.NONE : smtp.senders();
  }

  boolean mayRelay(InetAddress client) {
    return contains(relayNetworks, client);
  }

  /** Whether AUTH is offered to this client now (RFC 4954 4: not over clear text unless the network is listed). */
  boolean authOffered(InetAddress client, boolean tlsActive) {
    return auth != null && (tlsActive || contains(auth.plainNetworks(), client));
  }

  /** Whether the client could ever authenticate on this connection (now, or after STARTTLS). */
  boolean mayAuthenticate(InetAddress client, boolean tlsActive) {
    return auth != null && (tls || tlsActive || contains(auth.plainNetworks(), client));
  }

  /**
   * The policy that refuses this envelope sender, e.g. "smtp.allowed-senders user:scanner", or null if
   * the sender is allowed. The user's entry applies when authenticated, else the most specific network
   * entry containing the client; no entry means no restriction.
   */
  String senderRefusedBy(String sender, String user, InetAddress client) {
    List<String> allowed = null;
    String rule = null;
    if (user != null && senders.byUser().containsKey(user)) {
      allowed = senders.byUser().get(user);
      rule = "user:" + user;
    } else {
      int best = -1;
      for (Map.Entry<Cidr, List<String>> e : senders.byNetwork().entrySet()) {
        if (e.getKey().contains(client) && e.getKey().prefix() > best) {
          best = e.getKey().prefix();
          allowed = e.getValue();
          rule = e.getKey().toString();
        }
      }
    }
    if (allowed == null || matches(allowed, sender)) {
      return null;
    }
    return "smtp.allowed-senders " + rule;
  }

  static boolean matches(List<String> allowed, String sender) {
    if (sender.isEmpty()) {
      return allowed.contains("<>");
    }
    String domain = SmtpArgs.asciiDomain(sender);
    String address = SmtpArgs.localPart(sender) + "@" + domain;
    for (String a : allowed) {
      if (a.startsWith("@") ? a.substring(1).equals(domain) : a.equals(address)) {
        return true;
      }
    }
    return false;
  }

  private static boolean contains(List<Cidr> networks, InetAddress client) {
    for (Cidr c : networks) {
      if (c.contains(client)) {
        return true;
      }
    }
    return false;
  }

  /** Client-supplied text for a log line: no control characters or spaces (no forged lines or fields), at most 256. */
  static String logSafe(String s) {
    if (s == null) {
      return "-";
    }
    StringBuilder b = new StringBuilder(Math.min(s.length(), 256));
    s.codePoints().limit(256).forEach(c -> b.appendCodePoint(
        Character.isISOControl(c) || Character.isWhitespace(c) || c == '"' ? '_' : c));
    return b.toString();
  }

  static String show(InetAddress a) {
    return a.getHostAddress().toLowerCase(Locale.ROOT);
  }
}
