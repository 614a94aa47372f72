package io.relay365.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parsers for the value shapes of the configuration: sizes, durations, addresses, GUIDs, URLs. */
final class Values {
  private Values() {}

  static final long KB = 1024;
  /** MB means MiB (1024 * 1024 bytes), as in Exchange Online's own limits. */
  static final long MB = 1024 * KB;
  static final long GB = 1024 * MB;

  private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*([kmg]i?b?|b)?", Pattern.CASE_INSENSITIVE);
  private static final Pattern DURATION_PART = Pattern.compile("(\\d+)\\s*(ms|s|m|h|d)\\s*", Pattern.CASE_INSENSITIVE);
  static final Pattern GUID =
      Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
  static final String NIL_GUID = "00000000-0000-0000-0000-000000000000";
  private static final Pattern LABEL = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?");
  private static final Pattern ADDRESS = Pattern.compile("[^@\\s<>(),;:\"\\[\\]\\\\]+@[^@\\s]+");

  /** Bytes, from 36700160, "512KB", "35MB", "35 MiB", "1G"; null when the text is not a size. */
  static Long size(Object v) {
    if (v instanceof Integer || v instanceof Long) {
      return ((Number) v).longValue();
    }
    if (!(v instanceof String s)) {
      return null;
    }
    Matcher m = SIZE.matcher(s.strip());
    if (!m.matches()) {
      return null;
    }
    String unit = m.group(2) == null ? "b" : m.group(2).toLowerCase(Locale.ROOT);
    long factor = unit.startsWith("k") ? KB : unit.startsWith("m") ? MB : unit.startsWith("g") ? GB : 1;
    try {
      return Math.multiplyExact(Long.parseLong(m.group(1)), factor);
    } catch (ArithmeticException | NumberFormatException e) {
      return null;
    }
  }

  /** "30s", "5m", "1h", "250ms", "1d", "1m30s", ISO-8601 "PT5M", or a plain number of seconds; null if none of these. */
  static Duration duration(Object v) {
    if (v instanceof Integer || v instanceof Long) {
      return Duration.ofSeconds(((Number) v).longValue());
    }
    if (!(v instanceof String s)) {
      return null;
    }
    s = s.strip();
    try {
      if (s.matches("\\d{1,12}")) {
        return Duration.ofSeconds(Long.parseLong(s));
      }
      if (s.startsWith("P") || s.startsWith("p")) {
        return Duration.parse(s);
      }
      Matcher m = DURATION_PART.matcher(s);
      Duration d = Duration.ZERO;
      int at = 0;
      while (at < s.length() && m.find(at) && m.start() == at) {
        long n = Long.parseLong(m.group(1));
        switch (m.group(2).toLowerCase(Locale.ROOT)) {
          case "ms": d = d.plusMillis(n); break;
          case "s": d = d.plusSeconds(n); break;
          case "m": d = d.plusMinutes(n); break;
          case "h": d = d.plusHours(n); break;
          default: d = d.plusDays(n); break;
        }
        at = m.end();
      }
      return at == s.length() && at > 0 ? d : null;
    } catch (DateTimeParseException | ArithmeticException | NumberFormatException e) {
      return null;
    }
  }

  static String formatDuration(Duration d) {
    long ms = d.toMillis();
    if (ms != 0 && ms % 86_400_000 == 0) {
      return ms / 86_400_000 + "d";
    }
    if (ms != 0 && ms % 3_600_000 == 0) {
      return ms / 3_600_000 + "h";
    }
    if (ms != 0 && ms % 60_000 == 0) {
      return ms / 60_000 + "m";
    }
    if (ms % 1000 == 0) {
      return ms / 1000 + "s";
    }
    return ms + "ms";
  }

  static String formatSize(long bytes) {
    if (bytes != 0 && bytes % GB == 0) {
      return bytes / GB + "GB";
    }
    if (bytes != 0 && bytes % MB == 0) {
      return bytes / MB + "MB";
    }
    if (bytes != 0 && bytes % KB == 0) {
      return bytes / KB + "KB";
    }
    return Long.toString(bytes);
  }

  /** A DNS name (no lookup): letters, digits and hyphens in dot-separated labels. */
  static boolean isHostName(String s) {
    String h = s.endsWith(".") ? s.substring(0, s.length() - 1) : s;
    if (h.isEmpty() || h.length() > 253) {
      return false;
    }
    boolean allNumeric = true;
    for (String label : h.split("\\.", -1)) {
      if (!LABEL.matcher(label).matches()) {
        return false;
      }
      allNumeric &= label.chars().allMatch(Character::isDigit);
    }
    return !allNumeric || isIPv4(h);
  }

  static boolean isIPv4(String s) {
    String[] parts = s.split("\\.", -1);
    if (parts.length != 4) {
      return false;
    }
    for (String p : parts) {
      if (!p.matches("\\d{1,3}") || Integer.parseInt(p) > 255) {
        return false;
      }
    }
    return true;
  }

  /** An IPv6 literal as written between brackets (zone id allowed); shape only, no lookup. */
  static boolean isIPv6(String s) {
    String a = s.contains("%") ? s.substring(0, s.indexOf('%')) : s;
    if (!a.contains(":") || !a.matches("[0-9A-Fa-f:.]+") || a.contains(":::")) {
      return false;
    }
    int doubleColons = a.split("::", -1).length - 1;
    return doubleColons <= 1;
  }

  /** A DNS domain with at least two labels, e.g. contoso.onmicrosoft.com. */
  static boolean isDomain(String s) {
    return s.contains(".") && !s.endsWith(".") && isHostName(s) && !isIPv4(s);
  }

  static boolean isAddress(String s) {
    if (!ADDRESS.matcher(s).matches()) {
      return false;
    }
    return isDomain(s.substring(s.indexOf('@') + 1));
  }

  /** https://host[:port] of an https URL, or null if the text is not an absolute https URL with a host. */
  static URI httpsUri(String s) {
    try {
      URI u = new URI(s);
      if (!"https".equalsIgnoreCase(u.getScheme()) || u.getHost() == null || u.getRawUserInfo() != null
          || u.getPort() == 0 || u.getPort() > 65535) {
        return null;
      }
      return u;
    } catch (URISyntaxException e) {
      return null;
    }
  }

  static String origin(URI u) {
    return "https://" + u.getHost().toLowerCase(Locale.ROOT) + (u.getPort() == -1 ? "" : ":" + u.getPort());
  }
}
