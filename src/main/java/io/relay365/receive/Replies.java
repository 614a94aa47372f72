package io.relay365.receive;

import java.util.regex.Pattern;

/**
 * RFC 3463 enhanced status codes for the replies subethasmtp writes without one ("250 Ok",
 * "500 Error: command not implemented", "535 Authentication credentials invalid"...). RFC 2034 3:
 * a server that advertises ENHANCEDSTATUSCODES puts a code in every 2xx, 4xx and 5xx reply except
 * the greeting and the HELO/EHLO reply; 3xx replies (334, 354) have none.
 */
final class Replies {
  private Replies() {}

  private static final Pattern HAS_CODE = Pattern.compile("\\d{3}[ -][245]\\.\\d{1,3}\\.\\d{1,3}( .*)?\r?\n?",
      Pattern.DOTALL);
  private static final Pattern REPLY = Pattern.compile("[245]\\d\\d[ -].*", Pattern.DOTALL);

  /** One reply line (with its CRLF) with an enhanced code added when it is a 2xx/4xx/5xx line without one. */
  static String enhance(String line) {
    if (!REPLY.matcher(line).matches() || HAS_CODE.matcher(line).matches()) {
      return line;
    }
    return line.substring(0, 4) + code(line) + " " + line.substring(4);
  }

  private static String code(String line) {
    int c = Integer.parseInt(line.substring(0, 3));
    String text = line.substring(4).toLowerCase(java.util.Locale.ROOT);
    switch (c) {
      case 235: return "2.7.0";
      case 421: return text.contains("timeout") ? "4.4.2" : "4.7.0";
      case 451: return "4.3.0";
      case 452: return "4.5.3";
      case 454: return "4.7.0";
      case 500: return "5.5.2";
      case 501: return "5.5.4";
      case 502: return "5.5.1";
      case 503: return "5.5.1";
      case 504: return "5.5.4";
      case 530: return "5.7.0";
      case 535: return "5.7.8";
      case 553: return "5.1.3";
      default:
        return line.charAt(0) + ".0.0";
    }
  }
}
