package io.relay365.config;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Every setting the loader knows, in the order of conf/relay365.yaml, with its RELAY365_* variable.
 * Environment names are looked up in this table rather than split at '_', because '_' stands for
 * both '.' and '-' (RELAY365_MICROSOFT_CLIENT_SECRET_FILE is microsoft.client-secret-file, not
 * microsoft.client-secret + "_FILE").
 */
final class Keys {
  private Keys() {}

  static final String ENV_PREFIX = "RELAY365_";

  static final List<String> ALL = List.of(
      "smtp.listen",
      "smtp.hostname",
      "smtp.max-message-size",
      "smtp.max-recipients",
      "smtp.max-connections",
      "smtp.timeout",
      "smtp.session-timeout",
      "smtp.max-connections-per-client",
      "smtp.max-errors",
      "smtp.max-line-length",
      "smtp.bare-lf",
      "smtp.allowed-networks",
      "smtp.allowed-senders",
      "smtp.tls.cert-file",
      "smtp.tls.key-file",
      "smtp.tls.implicit-listen",
      "smtp.tls.required",
      "smtp.auth.users-file",
      "smtp.auth.without-tls-networks",
      "smtp.auth.failure-delay",
      "spool.dir",
      "spool.max-messages",
      "spool.min-free-disk",
      "microsoft.tenant-id",
      "microsoft.client-id",
      "microsoft.client-secret",
      "microsoft.client-secret-file",
      "microsoft.secret-expires",
      "microsoft.certificate.file",
      "microsoft.certificate.key-file",
      "microsoft.certificate.password",
      "microsoft.certificate.password-file",
      "microsoft.login-url",
      "microsoft.ca-file",
      "microsoft.scope",
      "microsoft.timeout",
      "ews.url",
      "ews.disposition",
      "ews.workers",
      "ews.timeout",
      "graph.url",
      "graph.timeout",
      "graph.max-request-size",
      "smtp-oauth.server",
      "smtp-oauth.timeout",
      "sender.mode",
      "sender.fixed-mailbox",
      "sender.map",
      "sender.default-mailbox",
      "delivery.transport",
      "delivery.concurrency",
      "delivery.per-mailbox-concurrency",
      "delivery.per-mailbox-rate",
      "delivery.min-backoff",
      "delivery.max-backoff",
      "delivery.max-lifetime",
      "delivery.dsn",
      "delivery.postmaster",
      "admin.listen",
      "admin.token",
      "admin.token-file");

  /** Values that must never be echoed in a message or in describe(). */
  static final Set<String> SECRETS = Set.of("microsoft.client-secret", "microsoft.certificate.password", "admin.token");

  /** The only key whose value is a mapping rather than a scalar. */
  static final String MAP_KEY = "sender.map";

  /** Sections: a YAML mapping under one of these names holds more keys. */
  static final Set<String> SECTIONS =
      Set.of("smtp", "smtp.tls", "smtp.auth", "spool", "microsoft", "microsoft.certificate", "ews", "graph",
          "smtp-oauth", "sender", "delivery", "admin");

  /** RELAY365_SMTP_LISTEN -> smtp.listen, for every known key. */
  static final Map<String, String> BY_ENV;

  static {
    Map<String, String> m = new LinkedHashMap<>();
    for (String k : ALL) {
      String previous = m.put(envName(k), k);
      if (previous != null) {
        throw new IllegalStateException(k + " and " + previous + " share " + envName(k));
      }
    }
    BY_ENV = Map.copyOf(m);
  }

  static String envName(String key) {
    return ENV_PREFIX + key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
  }

  static boolean isKnown(String key) {
    return ALL.contains(key);
  }

  /**
   * The known key closest to an unknown one, for "did you mean …?". Shared words count most (so
   * smtp.max-size finds smtp.max-message-size and a top-level "listen" finds smtp.listen), then
   * the edit distance of the last segment, then of the whole key; '_' for '-' is forgiven.
   */
  static String nearest(String unknown) {
    String u = unknown.toLowerCase(Locale.ROOT).replace('_', '-');
    Set<String> uWords = Set.of(u.split("[.-]"));
    String best = ALL.get(0);
    long bestScore = Long.MAX_VALUE;
    for (String k : ALL) {
      long shared = java.util.Arrays.stream(k.split("[.-]")).distinct().filter(uWords::contains).count();
      long score = (distance(leaf(u), leaf(k)) - 3 * shared) * 100L + distance(u, k);
      if (score < bestScore) {
        bestScore = score;
        best = k;
      }
    }
    return best;
  }

  /** The known key for a RELAY365_* name that is not one, by the same rules as {@link #nearest}. */
  static String nearestEnv(String envName) {
    String rest = envName.substring(ENV_PREFIX.length()).toLowerCase(Locale.ROOT);
    String best = ALL.get(0);
    int bestScore = Integer.MAX_VALUE;
    for (String k : ALL) {
      String kFlat = envName(k).substring(ENV_PREFIX.length()).toLowerCase(Locale.ROOT);
      int score = distance(rest, kFlat);
      if (score < bestScore) {
        bestScore = score;
        best = k;
      }
    }
    return best;
  }

  private static String leaf(String key) {
    return key.substring(key.lastIndexOf('.') + 1);
  }

  /** Levenshtein distance. */
  static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
