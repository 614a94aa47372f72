package io.relay365.deliver;

import jakarta.mail.MessagingException;
import jakarta.mail.internet.MimeBodyPart;
import jakarta.mail.internet.MimeUtility;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UnsupportedEncodingException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * What a spooled message becomes for Microsoft Graph (microsoft-wire.md §3), in one of two shapes:
 *
 * <ul>
 *   <li>whole: the base64 of the MIME, for one sendMail request, when that fits graph.max-request-size;
 *   <li>a draft: the base64 of the MIME without its big attachments (cut out of the file byte for byte,
 *       everything else unchanged), plus where each of those attachments lies in the spooled file, so its
 *       bytes can be streamed from there chunk by chunk and never held whole.
 * </ul>
 *
 * In both, envelope-only recipients travel in a Bcc: header (§3: MIME sends honour Bcc; Graph has no
 * envelope), any Bcc: header the client wrote is dropped first (what is delivered follows the envelope,
 * RFC 5321 §3.3, and a Bcc: header may name addresses that are not recipients at all), and
 * {@link MimeHygiene} repairs what Exchange would reject, as for EWS.
 */
final class GraphMessage {
  /** Base64 is 4/3 of its input, rounded up to whole quanta (RFC 4648 §4). */
  static long base64Length(long bytes) {
    return (bytes + 2) / 3 * 4;
  }

  /** Room kept below graph.max-request-size for what the estimate cannot see (hygiene, rounding). */
  static final long MARGIN = 8 * 1024;

  /** One attachment taken out of the message: its metadata and where its (encoded) body lies in the file. */
  record Attachment(String name, String contentType, boolean inline, String contentId, String encoding,
      long bodyStart, long bodyEnd, long size) {

    /** The decoded bytes, streamed from the spooled file. */
    InputStream open(Path file) throws IOException {
      return decoded(file, bodyStart, bodyEnd, encoding);
    }
  }

  /** The draft path: the MIME without the attachments (already base64), and the attachments. */
  record Draft(byte[] base64, List<Attachment> attachments) {}

  /** The message does not fit Graph's request limit even without all its attachments. */
  static final class TooLarge extends Exception {
    TooLarge(String message) {
      super(message, null, false, false);
    }
  }

  private GraphMessage() {}

  // ---- whole --------------------------------------------------------------------------------------

  /**
   * The base64 of the message for sendMail, or null if it would exceed {@code maxRequest} (then the
   * draft path is needed). A file that is certainly too big is not read into memory at all.
   */
  static byte[] whole(Path file, List<String> envelopeRecipients, MimeHygiene hygiene, long maxRequest)
      throws IOException {
    if (base64Length(Files.size(file)) > maxRequest) {
      return null;
    }
    byte[] mime = forGraph(Files.readAllBytes(file), hidden(file, envelopeRecipients), hygiene);
    if (base64Length(mime.length) > maxRequest) {
      return null;
    }
    return Base64.getEncoder().encode(mime);
  }

  /** Envelope recipients not in the top-level To:/Cc: (HiddenRecipients, as for EWS). */
  static List<String> hidden(Path file, List<String> envelopeRecipients) throws IOException {
    return HiddenRecipients.of(envelopeRecipients, MessageHeaders.read(file));
  }

  /** CRLF line ends, no Bcc: of the client's, a Bcc: of the hidden recipients, then MimeHygiene. */
  static byte[] forGraph(byte[] original, List<String> hidden, MimeHygiene hygiene) {
    byte[] mime = MimeHygiene.normaliseLineEnds(original);
    mime = HiddenRecipients.stripBcc(mime);
    mime = withBcc(mime, hidden);
    return hygiene.clean(mime);
  }

  /** Inserts "Bcc: a, b" as the last field of the top-level header block (input has CRLF line ends). */
  static byte[] withBcc(byte[] mime, List<String> bcc) {
    if (bcc.isEmpty()) {
      return mime;
    }
    byte[] field = bccField(bcc);
    int at = MimeHygiene.headerEnd(mime);
    boolean needsBreak = at == mime.length && mime.length > 0 && mime[mime.length - 1] != '\n';
    ByteArrayOutputStream out = new ByteArrayOutputStream(mime.length + field.length + 2);
    out.write(mime, 0, at);
    if (needsBreak) {
      out.write('\r');
      out.write('\n');
    }
    out.writeBytes(field);
    out.write(mime, at, mime.length - at);
    return out.toByteArray();
  }

  /** "Bcc: a@x, b@y" folded before 78 characters where possible (RFC 5322 §2.1.1, §2.2.3). */
  static byte[] bccField(List<String> bcc) {
    StringBuilder b = new StringBuilder("Bcc: ");
    int col = b.length();
    for (int i = 0; i < bcc.size(); i++) {
      String a = bcc.get(i) + (i + 1 < bcc.size() ? "," : "");
      if (i > 0) {
        if (col + 1 + a.length() > 78) {
          b.append("\r\n ");
          col = 1;
        } else {
          b.append(' ');
          col++;
        }
      }
      b.append(a);
      col += a.length();
    }
    b.append("\r\n");
    // RFC 6531: an SMTPUTF8 address stays as it is, in UTF-8
    return b.toString().getBytes(StandardCharsets.UTF_8);
  }

  // ---- draft --------------------------------------------------------------------------------------

  /**
   * The draft form of a message: attachments (largest first) are cut out of the MIME until what is left
   * fits one request of {@code maxRequest}. Inline parts (Content-ID, disposition inline) are taken out
   * too if needed, and go back as inline attachments. A multipart left without parts keeps an empty text
   * part, as RFC 2046 §5.1.1 requires at least one.
   */
  static Draft draft(Path file, List<String> envelopeRecipients, MimeHygiene hygiene, long maxRequest)
      throws IOException, TooLarge {
    MimeLayout.Part root = MimeLayout.read(file);
    List<String> hidden = hidden(file, envelopeRecipients);
    List<MimeLayout.Part> candidates = new ArrayList<>();
    for (MimeLayout.Part leaf : root.leaves()) {
      if (leaf != root && isAttachment(leaf)) {
        candidates.add(leaf);
      }
    }
    candidates.sort(Comparator.comparingLong(MimeLayout.Part::span).reversed());
    long size = Files.size(file);
    long bccLength = hidden.isEmpty() ? 0 : bccField(hidden).length;
    List<MimeLayout.Part> cut = new ArrayList<>();
    long remaining = size + bccLength;
    int next = 0;
    while (base64Length(remaining) + MARGIN > maxRequest && next < candidates.size()) {
      MimeLayout.Part p = candidates.get(next++);
      cut.add(p);
      remaining -= p.span();
    }
    while (true) {
      byte[] skeleton = forGraph(MimeLayout.without(file, cuts(cut), remaining), hidden, hygiene);
      if (base64Length(skeleton.length) <= maxRequest) {
        List<Attachment> atts = new ArrayList<>();
        for (MimeLayout.Part p : cut) {
          atts.add(describe(file, p, atts.size() + 1));
        }
        return new Draft(Base64.getEncoder().encode(skeleton), sortByFileOrder(atts));
      }
      if (next >= candidates.size()) {
        throw new TooLarge(root.isMultipart()
            ? "even without its " + cut.size() + " attachment(s) the message needs " + base64Length(skeleton.length)
                + " bytes in one Graph request, more than graph.max-request-size (" + maxRequest + ")"
            : "the message is one single part of " + size + " bytes, more than one Graph request may carry"
                + " (graph.max-request-size " + maxRequest + "), and has no attachment to upload separately");
      }
      MimeLayout.Part p = candidates.get(next++);
      cut.add(p);
      remaining -= p.span();
    }
  }

  private static List<Attachment> sortByFileOrder(List<Attachment> atts) {
    List<Attachment> sorted = new ArrayList<>(atts);
    sorted.sort(Comparator.comparingLong(Attachment::bodyStart));
    return sorted;
  }

  /**
   * The byte ranges to cut: each part with its delimiter line. The last part of a multipart that would
   * otherwise be left empty is replaced by an empty text/plain part.
   */
  static List<MimeLayout.Cut> cuts(List<MimeLayout.Part> parts) {
    Set<MimeLayout.Part> cutSet = new HashSet<>(parts);
    Map<MimeLayout.Part, MimeLayout.Part> lastCutOfEmptied = new HashMap<>();
    for (MimeLayout.Part p : parts) {
      MimeLayout.Part parent = p.parent;
      if (parent != null && cutSet.containsAll(parent.children)) {
        lastCutOfEmptied.put(parent, parent.children.get(parent.children.size() - 1));
      }
    }
    List<MimeLayout.Cut> out = new ArrayList<>();
    for (MimeLayout.Part p : parts) {
      byte[] replacement = new byte[0];
      if (p.parent != null && lastCutOfEmptied.get(p.parent) == p) {
        replacement = ("--" + p.parent.boundary + "\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\r\n")
            .getBytes(StandardCharsets.ISO_8859_1);
      }
      out.add(new MimeLayout.Cut(p.delimiter, p.next, replacement));
    }
    return out;
  }

  /** A part a person would call an attachment or an embedded image, as opposed to the message text. */
  static boolean isAttachment(MimeLayout.Part p) {
    String disposition = lower(p.header("Content-Disposition"));
    if (disposition.startsWith("attachment") || disposition.contains("filename")) {
      return true;
    }
    if (p.header("Content-ID") != null) {
      return true;
    }
    if (p.type == null) {
      return false; // text/plain by default (RFC 2045 §5.2)
    }
    if (p.type.getParameter("name") != null) {
      return true;
    }
    return !p.type.match("text/plain") && !p.type.match("text/html");
  }

  private static Attachment describe(Path file, MimeLayout.Part p, int n) throws IOException {
    String name = null;
    String contentId = null;
    String disposition = null;
    String encoding = null;
    try {
      MimeBodyPart view = new MimeBodyPart(p.headers, new byte[0]);
      name = view.getFileName();
      contentId = view.getContentID();
      disposition = view.getDisposition();
      encoding = view.getEncoding();
    } catch (MessagingException e) {
      // unreadable headers: the defaults below
    }
    if (name != null && name.contains("=?")) {
      try {
        name = MimeUtility.decodeText(name); // RFC 2047 in a filename: common, though RFC 2231 is the rule
      } catch (UnsupportedEncodingException e) {
        // keep it as written
      }
    }
    if (contentId != null) {
      contentId = contentId.strip().replaceAll("^<|>$", "");
    }
    String type = p.type == null ? "application/octet-stream" : p.type.getBaseType().toLowerCase(Locale.ROOT);
    if (name == null || name.isBlank()) {
      name = "attachment-" + n + extension(type);
    }
    boolean inline = "inline".equalsIgnoreCase(disposition)
        || (disposition == null && contentId != null && p.parent != null && p.parent.type != null
            && p.parent.type.match("multipart/related"));
    String enc = encoding == null ? "7bit" : encoding.strip().toLowerCase(Locale.ROOT);
    long size;
    try (InputStream in = decoded(file, p.bodyStart, p.end, enc)) {
      size = in.transferTo(java.io.OutputStream.nullOutputStream());
    }
    return new Attachment(name, type, inline, contentId, enc, p.bodyStart, p.end, size);
  }

  private static String extension(String type) {
    int slash = type.indexOf('/');
    String sub = slash < 0 ? "" : type.substring(slash + 1);
    return sub.matches("[a-z0-9]{1,8}") ? "." + sub : "";
  }

  private static String lower(String s) {
    return s == null ? "" : s.toLowerCase(Locale.ROOT);
  }

  /** The decoded content of a byte range of the file (RFC 2045 §6 transfer encodings). */
  static InputStream decoded(Path file, long from, long to, String encoding) throws IOException {
    FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
    InputStream raw = new BufferedInputStream(new Range(Channels.newInputStream(ch.position(from)), to - from),
        64 * 1024);
    String enc = encoding == null ? "7bit" : encoding;
    if (enc.equals("7bit") || enc.equals("8bit") || enc.equals("binary")) {
      return raw;
    }
    try {
      return MimeUtility.decode(raw, enc);
    } catch (MessagingException e) {
      return raw; // an unknown encoding: the bytes as they are, as mail clients show them
    }
  }

  /** At most {@code limit} bytes of {@code in}. */
  private static final class Range extends FilterInputStream {
    private long left;

    Range(InputStream in, long limit) {
      super(in);
      this.left = limit;
    }

    @Override
    public int read() throws IOException {
      if (left <= 0) {
        return -1;
      }
      int b = super.read();
      if (b >= 0) {
        left--;
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (left <= 0) {
        return -1;
      }
      int n = super.read(b, off, (int) Math.min(len, left));
      if (n > 0) {
        left -= n;
      }
      return n;
    }
  }
}
