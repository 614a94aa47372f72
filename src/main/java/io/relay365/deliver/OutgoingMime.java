package io.relay365.deliver;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The spooled message as it goes into SMTP DATA: without any Bcc:/Resent-Bcc: header (the envelope carries
 * the hidden recipients; RFC 5322 §3.6.3) and after {@link MimeHygiene}, exactly the bytes EWS would get.
 *
 * <p>Most messages need no repair: then only the header block is held in memory and the body is streamed
 * from the spool file. A message that needs repair (bare CR/LF, raw 8-bit header bytes, lines over 998
 * octets) or whose header block is huge is read whole and cleaned in memory, as {@link MimeHygiene} needs;
 * {@link #inMemory()} says which.
 */
final class OutgoingMime {
  /** A header block larger than this is not kept apart from the body: the whole message is read instead. */
  static final int MAX_STREAMED_HEADER = 1024 * 1024;
  private static final int MAX_LINE = 998; // RFC 5322 2.1.1

  /** Reading the spool file failed while sending (not the network's fault). */
  static final class SpoolReadException extends IOException {
    SpoolReadException(IOException cause) {
      super("cannot read the spooled message: " + cause.getMessage(), cause);
    }
  }

  private final byte[] head;      // the header block (streamed) or the whole cleaned message (in memory)
  private final Path file;        // null when in memory
  private final long bodyOffset;
  private final long bodyLength;
  private final boolean eightBit;

  private OutgoingMime(byte[] head, Path file, long bodyOffset, long bodyLength, boolean eightBit) {
    this.head = head;
    this.file = file;
    this.bodyOffset = bodyOffset;
    this.bodyLength = bodyLength;
    this.eightBit = eightBit;
  }

  /** Scans {@code message} once and decides how it will be sent. */
  static OutgoingMime prepare(Path message, MimeHygiene hygiene) throws IOException {
    return prepare(message, scan(message), hygiene);
  }

  /** As {@link #prepare(Path, MimeHygiene)} with a scan made before (to reserve memory in between). */
  static OutgoingMime prepare(Path message, Scan scan, MimeHygiene hygiene) throws IOException {
    if (scan.inMemory()) {
      byte[] clean = hygiene.clean(HiddenRecipients.stripBcc(Files.readAllBytes(message)));
      return new OutgoingMime(clean, null, 0, 0, scan.eightBit);
    }
    byte[] header;
    try (InputStream in = Files.newInputStream(message)) {
      header = in.readNBytes((int) scan.headerEnd);
    }
    return new OutgoingMime(HiddenRecipients.stripBcc(header), message, scan.headerEnd, scan.length - scan.headerEnd,
        scan.eightBit);
  }

  /** Bytes of DATA before dot-stuffing: the SIZE= of MAIL FROM (RFC 1870). */
  long size() {
    return head.length + bodyLength;
  }

  /** Holds bytes above 127: MAIL FROM then says BODY=8BITMIME (RFC 6152). */
  boolean eightBit() {
    return eightBit;
  }

  boolean inMemory() {
    return file == null;
  }

  /** Writes the message; a failure to read the spool file is a {@link SpoolReadException}. */
  void writeTo(OutputStream out) throws IOException {
    out.write(head);
    if (file == null || bodyLength == 0) {
      return;
    }
    byte[] buf = new byte[64 * 1024];
    InputStream in;
    try {
      in = Files.newInputStream(file);
      in.skipNBytes(bodyOffset);
    } catch (IOException e) {
      throw new SpoolReadException(e);
    }
    try (in) {
      long left = bodyLength;
      while (left > 0) {
        int n;
        try {
          n = in.read(buf, 0, (int) Math.min(buf.length, left));
        } catch (IOException e) {
          throw new SpoolReadException(e);
        }
        if (n < 0) {
          throw new SpoolReadException(new IOException("the spooled message became shorter while being sent"));
        }
        out.write(buf, 0, n);
        left -= n;
      }
    }
  }

  /** What one pass over the file found. */
  record Scan(long length, long headerEnd, boolean needsRepair, boolean eightBit) {
    /** The message will be read whole (repair, or a header block too large to keep apart). */
    boolean inMemory() {
      return needsRepair || headerEnd > MAX_STREAMED_HEADER;
    }
  }

  /**
   * The conditions under which {@link MimeHygiene#clean} would change the message (bare CR or LF, 8-bit bytes
   * in the header block, a line over 998 octets), whether it holds 8-bit bytes at all, and where the header
   * block ends (the start of the first empty line; the whole file if there is none).
   */
  static Scan scan(Path message) throws IOException {
    long pos = 0;
    long headerEnd = -1;
    long lineStart = 0;
    int lineLen = 0;          // octets of the current line, CR excluded (as MimeHygiene counts)
    boolean needsRepair = false;
    boolean eightBit = false;
    int prev = -1;
    byte[] buf = new byte[64 * 1024];
    try (InputStream in = Files.newInputStream(message)) {
      int n;
      while ((n = in.read(buf)) > 0) {
        for (int i = 0; i < n; i++, pos++) {
          int b = buf[i] & 0xff;
          if (prev == '\r' && b != '\n') {
            needsRepair = true; // bare CR
          }
          if (b == '\n') {
            if (prev != '\r') {
              needsRepair = true; // bare LF
            }
            if (headerEnd < 0 && lineLen == 0) {
              headerEnd = lineStart;
            }
            lineStart = pos + 1;
            lineLen = 0;
          } else if (b != '\r') {
            if (++lineLen > MAX_LINE) {
              needsRepair = true;
            }
          }
          if (b > 127) {
            eightBit = true;
            if (headerEnd < 0) {
              needsRepair = true; // raw 8-bit header bytes become RFC 2047 words
            }
          }
          prev = b;
        }
      }
    }
    if (prev == '\r') {
      needsRepair = true; // a final bare CR
    }
    return new Scan(pos, headerEnd < 0 ? pos : headerEnd, needsRepair, eightBit);
  }
}
