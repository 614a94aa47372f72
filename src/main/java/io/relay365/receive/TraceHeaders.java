package io.relay365.receive;

import java.nio.charset.StandardCharsets;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The header fields the relay itself adds. Every value that came from the client is reduced to a safe
 * character set first, so no client input can end a header line or start a new field (CWE-93).
 */
final class TraceHeaders {
  /** RFC 5322 3.3 date-time with a numeric zone. */
  static final DateTimeFormatter DATE = DateTimeFormatter.ofPattern("EEE, d MMM yyyy HH:mm:ss Z", Locale.US);
  private static final Pattern UNSAFE_NAME = Pattern.compile("[^A-Za-z0-9.\\-_:\\[\\]]");
  private static final int MAX_NAME = 255;

  private TraceHeaders() {}

  /**
   * RFC 5321 4.4 time stamp line, folded at the clauses with a tab (RFC 5322 2.2.3):
   * <pre>
   * Received: from HELO (IP)
   * 	by HOST (relay365) with ESMTP id ID; DATE
   * </pre>
   * There is never a "for &lt;recipient&gt;" clause (RFC 5321 4.4 makes it optional): Exchange sends
   * the message to every To:/Cc: address with this header in it, so naming an envelope recipient
   * would show a Bcc recipient to all the others.
   */
  static byte[] received(String helo, String clientIp, String hostname, String id, String unusedRcpt, ZonedDateTime now) {
    StringBuilder sb = new StringBuilder(200)
        .append("Received: from ").append(name(helo))
        .append(" (").append(name(clientIp)).append(")\r\n")
        .append("\tby ").append(name(hostname)).append(" (relay365) with ESMTP id ").append(name(id))
        .append("; ").append(DATE.format(now)).append("\r\n");
    return sb.toString().getBytes(StandardCharsets.US_ASCII);
  }

  /** {@code Message-ID: <id.random@hostname>} with CRLF. */
  static byte[] messageId(String id, String random, String hostname) {
    return ("Message-ID: <" + name(id) + "." + name(random) + "@" + name(hostname) + ">\r\n")
        .getBytes(StandardCharsets.US_ASCII);
  }

  /** A HELO name, address or host name reduced to letters, digits and {@code . - _ : [ ]}. */
  static String name(String s) {
    if (s == null || s.isEmpty()) {
      return "unknown";
    }
    String clean = UNSAFE_NAME.matcher(s).replaceAll("_");
    return clean.length() > MAX_NAME ? clean.substring(0, MAX_NAME) : clean;
  }
}
