package io.relay365.deliver;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * EWS has no envelope: Exchange sends to the addresses in the MIME headers (microsoft-wire.md §2.8).
 * Envelope recipients missing from To:/Cc: (Bcc, list expansion, resends) therefore go in
 * {@code t:BccRecipients}, and any Bcc: header is removed from the MIME so that it cannot disclose them
 * (RFC 5322 §3.6.3) or make Exchange send twice. Thunderbird's EWS transport does the same.
 */
public final class HiddenRecipients {
  private HiddenRecipients() {}

  /**
   * The envelope recipients that are not in any To: or Cc: header (case-insensitive), without
   * duplicates, in envelope order.
   */
  public static List<String> of(List<String> envelopeRecipients, MessageHeaders headers) {
    Set<String> visible = new HashSet<>();
    for (String name : List.of("To", "Cc")) {
      for (String a : headers.addressSpecs(name)) {
        visible.add(MessageHeaders.normalize(a));
      }
    }
    Map<String, String> hidden = new LinkedHashMap<>();
    for (String r : envelopeRecipients) {
      String key = MessageHeaders.normalize(r);
      if (!visible.contains(key)) {
        hidden.putIfAbsent(key, r);
      }
    }
    return new ArrayList<>(hidden.values());
  }

  /**
   * {@code mime} without any top-level Bcc: field (with its folded continuation lines). Every other
   * byte is kept as it is: other headers, line endings (CRLF or bare LF), the blank line and the body,
   * including the headers of body parts. Returns {@code mime} itself if there is no Bcc: field.
   */
  public static byte[] stripBcc(byte[] mime) {
    int n = mime.length;
    ByteArrayOutputStream out = null;
    int copiedUpTo = 0;
    int pos = 0;
    boolean dropping = false;
    while (pos < n) {
      int end = pos;
      while (end < n && mime[end] != '\n') {
        end++;
      }
      int next = end < n ? end + 1 : n; // start of the next line
      boolean empty = end == pos || (end == pos + 1 && mime[pos] == '\r');
      if (empty) {
        break; // the blank line: the header block ends, nothing after it is touched
      }
      boolean continuation = mime[pos] == ' ' || mime[pos] == '\t';
      if (!continuation) {
        dropping = isBcc(mime, pos, end);
      }
      if (dropping) {
        if (out == null) {
          out = new ByteArrayOutputStream(n);
        }
        out.write(mime, copiedUpTo, pos - copiedUpTo);
        copiedUpTo = next;
      }
      pos = next;
    }
    if (out == null) {
      return mime;
    }
    out.write(mime, copiedUpTo, n - copiedUpTo);
    return out.toByteArray();
  }

  // "Bcc:" or "Resent-Bcc:" (RFC 5322 §3.6.6), or in the obsolete syntax (§4.5.3) "Bcc  :" - any case
  private static boolean isBcc(byte[] b, int start, int end) {
    if (startsWithIgnoreCase(b, start, end, "resent-")) {
      start += 7;
    }
    if (end - start < 4) {
      return false;
    }
    if ((b[start] | 0x20) != 'b' || (b[start + 1] | 0x20) != 'c' || (b[start + 2] | 0x20) != 'c') {
      return false;
    }
    int i = start + 3;
    while (i < end && (b[i] == ' ' || b[i] == '\t')) {
      i++;
    }
    return i < end && b[i] == ':';
  }

  private static boolean startsWithIgnoreCase(byte[] b, int start, int end, String prefix) {
    if (end - start < prefix.length()) {
      return false;
    }
    for (int i = 0; i < prefix.length(); i++) {
      if (Character.toLowerCase((char) b[start + i]) != prefix.charAt(i)) {
        return false;
      }
    }
    return true;
  }
}
