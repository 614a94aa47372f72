package io.relay365.deliver;

import jakarta.mail.MessagingException;
import jakarta.mail.Multipart;
import jakarta.mail.Part;
import jakarta.mail.Session;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeUtility;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UnsupportedEncodingException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.Charset;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Properties;
import java.util.Set;

/**
 * Repairs what old devices send and Exchange Online rejects or mangles, just before delivery:
 *
 * <ul>
 *   <li>bare LF or bare CR line ends become CRLF (RFC 5322 §2.3: CR and LF only together);</li>
 *   <li>raw 8-bit bytes in top-level header fields become RFC 2047 encoded words, read as UTF-8 when
 *       they are valid UTF-8 and otherwise in the configured legacy charset (copiers write
 *       windows-1252 subjects); addresses themselves are never encoded (RFC 2047 §5 forbids it, and
 *       an SMTPUTF8 local part must stay as it is);</li>
 *   <li>a body line longer than 998 octets (RFC 5322 §2.1.1) is never cut: the part holding it is
 *       re-encoded as quoted-printable, which keeps every byte of its content.</li>
 * </ul>
 *
 * Anything else passes through byte for byte, and a message that needs none of this is returned
 * as the same array.
 */
public final class MimeHygiene {
  private static final int MAX_LINE = 998;
  /** Header fields whose value is an address list: only their display names may be encoded. */
  private static final Set<String> ADDRESS_FIELDS = Set.of("from", "sender", "reply-to", "to", "cc", "bcc",
      "resent-from", "resent-sender", "resent-to", "resent-cc", "resent-bcc", "disposition-notification-to",
      "return-receipt-to");
  /** Header fields that are identifiers or MIME syntax, never human text; left alone even if 8-bit. */
  private static final Set<String> LEAVE_ALONE = Set.of("message-id", "in-reply-to", "references", "received",
      "content-type", "content-disposition", "content-transfer-encoding", "mime-version", "return-path",
      "dkim-signature", "arc-seal", "arc-message-signature", "authentication-results");

  private final Charset legacy;

  public MimeHygiene(Charset legacyCharset) {
    this.legacy = legacyCharset;
  }

  /** The cleaned message; {@code mime} itself when it needed no change. */
  public byte[] clean(byte[] mime) {
    byte[] out = normaliseLineEnds(mime);
    out = encodeHeaders(out);
    if (hasLongLine(out)) {
      out = reencodeLongLines(out);
    }
    return out;
  }

  /** CRLF for every bare LF and bare CR; the same array if there are none. */
  static byte[] normaliseLineEnds(byte[] in) {
    int extra = 0;
    for (int i = 0; i < in.length; i++) {
      if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) {
        extra++;
      } else if (in[i] == '\r' && (i + 1 == in.length || in[i + 1] != '\n')) {
        extra++;
      }
    }
    if (extra == 0) {
      return in;
    }
    byte[] out = new byte[in.length + extra];
    int o = 0;
    for (int i = 0; i < in.length; i++) {
      byte b = in[i];
      if (b == '\n' && (i == 0 || in[i - 1] != '\r')) {
        out[o++] = '\r';
        out[o++] = '\n';
      } else if (b == '\r' && (i + 1 == in.length || in[i + 1] != '\n')) {
        out[o++] = '\r';
        out[o++] = '\n';
      } else {
        out[o++] = b;
      }
    }
    return out;
  }

  /** Rewrites the top-level header fields that hold raw 8-bit bytes; input has CRLF line ends. */
  byte[] encodeHeaders(byte[] in) {
    int end = headerEnd(in);
    boolean eightBit = false;
    for (int i = 0; i < end && !eightBit; i++) {
      eightBit = in[i] < 0;
    }
    if (!eightBit) {
      return in;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(in.length + 256);
    int start = 0;
    while (start < end) {
      int fieldEnd = fieldEnd(in, start, end);
      writeField(in, start, fieldEnd, out);
      start = fieldEnd;
    }
    out.write(in, end, in.length - end);
    return out.toByteArray();
  }

  private void writeField(byte[] in, int from, int to, ByteArrayOutputStream out) {
    boolean eightBit = false;
    for (int i = from; i < to && !eightBit; i++) {
      eightBit = in[i] < 0;
    }
    int colon = indexOf(in, (byte) ':', from, to);
    if (!eightBit || colon < 0) {
      out.write(in, from, to - from);
      return;
    }
    String name = new String(in, from, colon - from, StandardCharsets.US_ASCII).trim();
    if (LEAVE_ALONE.contains(name.toLowerCase(Locale.ROOT))) {
      out.write(in, from, to - from);
      return;
    }
    // Unfold (RFC 5322 §2.2.3) and decode the raw value once, then encode it again as ASCII.
    String raw = decode(in, colon + 1, to).replaceAll("\r\n([ \t])", "$1").replaceAll("\r\n$", "").strip();
    String value = ADDRESS_FIELDS.contains(name.toLowerCase(Locale.ROOT)) ? encodePhrases(raw) : encodeText(raw);
    String field = MimeUtility.fold(name.length() + 2, value);
    out.writeBytes((name + ": " + field + "\r\n").getBytes(StandardCharsets.UTF_8));
  }

  /** The header bytes as text: UTF-8 if they are valid UTF-8, else the legacy charset. */
  String decode(byte[] in, int from, int to) {
    try {
      return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(in, from, to - from)).toString();
    } catch (CharacterCodingException e) {
      return new String(in, from, to - from, legacy);
    }
  }

  private static String encodeText(String text) {
    try {
      return MimeUtility.encodeText(text, "UTF-8", null);
    } catch (UnsupportedEncodingException e) {
      throw new IllegalStateException(e); // UTF-8 always exists
    }
  }

  /**
   * Encodes the non-ASCII display-name parts of an address list and nothing else: quoted strings and
   * atoms outside angle brackets that hold non-ASCII text become encoded words; addr-specs (in
   * angle brackets, or any token with '@') are kept as they are.
   */
  static String encodePhrases(String value) {
    StringBuilder out = new StringBuilder(value.length() + 32);
    int i = 0;
    int n = value.length();
    while (i < n) {
      char c = value.charAt(i);
      if (c == '<') {
        int close = value.indexOf('>', i);
        close = close < 0 ? n - 1 : close;
        out.append(value, i, close + 1);
        i = close + 1;
      } else if (c == '"') {
        int j = i + 1;
        StringBuilder content = new StringBuilder();
        while (j < n && value.charAt(j) != '"') {
          if (value.charAt(j) == '\\' && j + 1 < n) {
            j++;
          }
          content.append(value.charAt(j++));
        }
        String quoted = value.substring(i, Math.min(j + 1, n));
        out.append(isAscii(content) ? quoted : encodeWord(content.toString()));
        i = j + 1;
      } else if (c == '(' || c == ',' || c == ':' || c == ';' || Character.isWhitespace(c)) {
        out.append(c);
        i++;
      } else {
        int j = i;
        while (j < n && "<\"(,:; \t".indexOf(value.charAt(j)) < 0) {
          j++;
        }
        String atom = value.substring(i, j);
        out.append(isAscii(atom) || atom.indexOf('@') >= 0 ? atom : encodeWord(atom));
        i = j;
      }
    }
    return out.toString();
  }

  private static String encodeWord(String text) {
    try {
      return MimeUtility.encodeWord(text, "UTF-8", null);
    } catch (UnsupportedEncodingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static boolean isAscii(CharSequence s) {
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) > 127) {
        return false;
      }
    }
    return true;
  }

  static boolean hasLongLine(byte[] in) {
    int len = 0;
    for (byte b : in) {
      if (b == '\n') {
        len = 0;
      } else if (b != '\r' && ++len > MAX_LINE) {
        return true;
      }
    }
    return false;
  }

  /**
   * Re-encodes, as quoted-printable, every leaf part that is sent unencoded (7bit, 8bit, binary) and
   * has a line over 998 octets. Jakarta Mail rewrites the structure it touches, so this runs only
   * when such a line exists; the content of every part stays the same.
   */
  static byte[] reencodeLongLines(byte[] in) {
    try {
      MimeMessage msg = new MimeMessage(Session.getInstance(new Properties()), new ByteArrayInputStream(in));
      String messageId = msg.getHeader("Message-ID", null);
      if (!reencode(msg)) {
        return in;
      }
      msg.saveChanges();
      if (messageId != null) {
        msg.setHeader("Message-ID", messageId); // saveChanges() makes a new one; retries must keep the old
      }
      ByteArrayOutputStream out = new ByteArrayOutputStream(in.length + in.length / 10);
      msg.writeTo(out);
      return out.toByteArray();
    } catch (MessagingException | IOException e) {
      return in; // not parseable as MIME: deliver as received rather than lose it
    }
  }

  private static boolean reencode(Part part) throws MessagingException, IOException {
    if (part.isMimeType("multipart/*")) {
      Multipart mp = (Multipart) part.getContent();
      boolean changed = false;
      for (int i = 0; i < mp.getCount(); i++) {
        changed |= reencode(mp.getBodyPart(i));
      }
      return changed;
    }
    String[] cte = part.getHeader("Content-Transfer-Encoding");
    String enc = cte == null ? "7bit" : cte[0].trim().toLowerCase(Locale.ROOT);
    if (!enc.equals("7bit") && !enc.equals("8bit") && !enc.equals("binary")) {
      return false; // base64 / quoted-printable lines are short by construction
    }
    byte[] body;
    try (var raw = rawStream(part)) {
      body = raw.readAllBytes();
    }
    if (!hasLongLine(body)) {
      return false;
    }
    // Give the part its decoded content again (same bytes, same Content-Type), so Jakarta Mail
    // encodes it on write; quoted-printable keeps text readable and lines at 76 octets.
    String type = part.getContentType();
    byte[] content;
    try (var decoded = part.getInputStream()) {
      content = decoded.readAllBytes();
    }
    part.setDataHandler(new jakarta.activation.DataHandler(new jakarta.mail.util.ByteArrayDataSource(content, type)));
    part.setHeader("Content-Type", type);
    part.setHeader("Content-Transfer-Encoding", "quoted-printable");
    return true;
  }

  private static java.io.InputStream rawStream(Part part) throws MessagingException {
    if (part instanceof jakarta.mail.internet.MimeBodyPart p) {
      return p.getRawInputStream();
    }
    return ((MimeMessage) part).getRawInputStream();
  }

  /** Offset just after the blank line ending the top-level header block (or the end). */
  static int headerEnd(byte[] in) {
    if (in.length >= 2 && in[0] == '\r' && in[1] == '\n') {
      return 0; // no header fields at all
    }
    for (int i = 0; i + 3 < in.length; i++) {
      if (in[i] == '\r' && in[i + 1] == '\n' && in[i + 2] == '\r' && in[i + 3] == '\n') {
        return i + 2;
      }
    }
    return in.length;
  }

  /** End of the header field starting at {@code from}: after its last CRLF, continuation lines included. */
  private static int fieldEnd(byte[] in, int from, int end) {
    int i = from;
    while (i < end) {
      int lf = indexOf(in, (byte) '\n', i, end);
      if (lf < 0) {
        return end;
      }
      i = lf + 1;
      if (i >= end || (in[i] != ' ' && in[i] != '\t')) {
        return i;
      }
    }
    return end;
  }

  private static int indexOf(byte[] in, byte b, int from, int to) {
    for (int i = from; i < to; i++) {
      if (in[i] == b) {
        return i;
      }
    }
    return -1;
  }
}
