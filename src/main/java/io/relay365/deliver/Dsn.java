package io.relay365.deliver;

import io.relay365.store.Envelope;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The delivery status notification (RFC 3464, a multipart/report, RFC 6522) sent to the envelope sender
 * of a dead letter when delivery.dsn is on. It is spooled like any message, with the null sender (RFC 5321
 * 4.5.5: so that no notice is ever sent about a notice) and {@link #CLIENT} as its client, and sent as
 * delivery.postmaster through the same transport.
 *
 * <p>Every header value built here comes from outside (the envelope sender and recipients from the SMTP
 * client, the reason from Microsoft): each goes through {@link #headerSafe} or {@link #address}, which
 * refuse CR, LF and other control characters, so that nothing can inject a header (CWE-93; vertx-mail's
 * CRLFInjectionTest does the same).
 */
public final class Dsn {
  /** Envelope.client of a spooled notice: marks it as one (it is sent as the postmaster, never answered). */
  public static final String CLIENT = "relay365-dsn";
  private static final int MAX_ORIGINAL_HEADERS = 64 * 1024;
  private static final int MAX_REASON = 500;
  private static final Pattern ADDRESS = Pattern.compile("[!-~&&[^<>()\\[\\]\\\\,;:\"\\s]]+@[A-Za-z0-9.\\-\\[\\]:]+");
  private static final DateTimeFormatter DATE =
      DateTimeFormatter.ofPattern("EEE, d MMM yyyy HH:mm:ss Z", Locale.ROOT);

  private Dsn() {}

  /** True for a notice this relay generated; it never gets a notice of its own. */
  public static boolean isNotice(Envelope e) {
    return e.nullSender() && CLIENT.equals(e.client());
  }

  /** Whether a dead letter gets a notice at all: never for the null sender (RFC 5321 4.5.5). */
  public static boolean wanted(Envelope dead) {
    return !dead.nullSender() && !isNotice(dead) && address(dead.sender()) != null;
  }

  /**
   * The notice's bytes (CRLF line ends).
   *
   * @param dead       the buried envelope
   * @param status     RFC 3463 status code, e.g. "5.3.4"
   * @param reason     why (one line; control characters are replaced)
   * @param original   the dead message.eml, for its header block (text/rfc822-headers); may be missing
   * @param uniquePart random text for the Message-ID
   */
  public static byte[] compose(Envelope dead, String status, String reason, String postmaster, String hostname,
      Path original, Instant now, String uniquePart) throws IOException {
    String to = address(dead.sender());
    String from = address(postmaster);
    if (to == null || from == null) {
      throw new IllegalArgumentException("not a plain address: refusing to write it into a header");
    }
    String host = headerSafe(hostname);
    String why = headerSafe(reason);
    if (why.length() > MAX_REASON) {
      why = why.substring(0, MAX_REASON) + "...";
    }
    String st = status.matches("[245]\\.\\d{1,3}\\.\\d{1,3}") ? status : "5.0.0";
    String boundary = "=_relay365_" + headerSafe(dead.id()) + "_" + headerSafe(uniquePart);
    String date = DATE.format(ZonedDateTime.ofInstant(now, ZoneId.systemDefault()));
    String arrived = DATE.format(ZonedDateTime.ofInstant(dead.arrived(), ZoneId.systemDefault()));

    StringBuilder b = new StringBuilder(2048);
    line(b, "From: Mail Delivery System <" + from + ">");
    line(b, "To: <" + to + ">");
    line(b, "Subject: Undelivered Mail Returned to Sender");
    line(b, "Date: " + date);
    line(b, "Message-ID: <dsn." + headerSafe(dead.id()) + "." + headerSafe(uniquePart) + "@" + host + ">");
    line(b, "Auto-Submitted: auto-replied"); // RFC 3834: machines must not answer it
    line(b, "MIME-Version: 1.0");
    line(b, "Content-Type: multipart/report; report-type=delivery-status;");
    line(b, "\tboundary=\"" + boundary + "\"");
    line(b, "");
    line(b, "This is a MIME-encapsulated message.");
    line(b, "");
    line(b, "--" + boundary);
    line(b, "Content-Type: text/plain; charset=us-ascii");
    line(b, "");
    line(b, "This is the mail system at host " + host + ".");
    line(b, "");
    line(b, "Your message could not be delivered to Microsoft 365 and has been given up.");
    line(b, "");
    line(b, "  Queue id:   " + headerSafe(dead.id()));
    line(b, "  Received:   " + arrived);
    line(b, "  Recipients: " + headerSafe(String.join(", ", dead.recipients())));
    line(b, "  Reason:     " + why);
    line(b, "");
    line(b, "--" + boundary);
    line(b, "Content-Type: message/delivery-status");
    line(b, "");
    line(b, "Reporting-MTA: dns; " + host);
    line(b, "X-Relay365-Queue-ID: " + headerSafe(dead.id()));
    line(b, "Arrival-Date: " + arrived);
    for (String r : dead.recipients()) {
      String rcpt = address(r);
      line(b, "");
      line(b, "Final-Recipient: rfc822; " + (rcpt == null ? "invalid" : rcpt));
      line(b, "Action: failed");
      line(b, "Status: " + st);
      line(b, "Diagnostic-Code: X-EWS; " + why);
    }
    line(b, "");
    line(b, "--" + boundary);
    line(b, "Content-Type: text/rfc822-headers");
    line(b, "");
    ByteArrayOutputStream out = new ByteArrayOutputStream(4096);
    out.write(b.toString().getBytes(StandardCharsets.US_ASCII));
    out.write(originalHeaders(original));
    out.write(("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.US_ASCII));
    return out.toByteArray();
  }

  /** RFC 3463 status for an outcome: what a mail client shows the sender. */
  public static String status(Outcome o, boolean expired) {
    if (expired) {
      return "5.4.7"; // delivery time expired
    }
    switch (o.code()) {
      case "ErrorMessageSizeExceeded":
        return "5.3.4";
      case "ErrorInvalidRecipients":
      case "ErrorInvalidSmtpAddress":
        return "5.1.3";
      default:
        return o.code().startsWith("ErrorMimeContent") ? "5.6.0" : "5.0.0";
    }
  }

  /** A printable one-line ASCII value: CR, LF, other controls and non-ASCII become spaces or '?'. */
  static String headerSafe(String s) {
    if (s == null) {
      return "";
    }
    StringBuilder b = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        b.append(' ');
      } else if (c > 0x7e) {
        b.append('?');
      } else {
        b.append(c);
      }
    }
    return b.toString().replaceAll(" {2,}", " ").strip();
  }

  /** The address if it is a plain local@domain without anything that could break out of {@code <...>}. */
  static String address(String s) {
    return s != null && s.length() <= 320 && ADDRESS.matcher(s).matches() ? s : null;
  }

  private static void line(StringBuilder b, String s) {
    b.append(s).append("\r\n");
  }

  /** The header block of the original, up to 64 KB and whole lines, CRLF-terminated. */
  private static byte[] originalHeaders(Path original) {
    if (original == null || !Files.exists(original)) {
      return "X-Relay365-Note: the original message is no longer available\r\n".getBytes(StandardCharsets.US_ASCII);
    }
    byte[] buf;
    try (InputStream in = Files.newInputStream(original)) {
      buf = in.readNBytes(MAX_ORIGINAL_HEADERS);
    } catch (IOException e) {
      return "X-Relay365-Note: the original message could not be read\r\n".getBytes(StandardCharsets.US_ASCII);
    }
    int end = buf.length;
    int lastLineEnd = 0;
    for (int i = 0; i < buf.length; i++) {
      if (buf[i] == '\n') {
        if (i + 1 - lastLineEnd <= 2 && (i == lastLineEnd || buf[lastLineEnd] == '\r')) {
          end = lastLineEnd; // empty line: end of the header block
          break;
        }
        lastLineEnd = i + 1;
      }
      if (i == buf.length - 1) {
        end = lastLineEnd; // cut at a whole line
      }
    }
    byte[] out = java.util.Arrays.copyOf(buf, end);
    return out;
  }
}
