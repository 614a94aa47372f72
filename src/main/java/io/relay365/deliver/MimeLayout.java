package io.relay365.deliver;

import jakarta.mail.MessagingException;
import jakarta.mail.internet.ContentType;
import jakarta.mail.internet.InternetHeaders;
import jakarta.mail.internet.ParseException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Where each MIME part of a spooled message lies in its file, found by reading the file line by line,
 * never holding it in memory: header block, body, and for the parts of a multipart the delimiter line
 * that opens each one (RFC 2046 §5.1.1). The large-message path uses it to cut big attachments out of
 * the message and to stream their bytes from the file.
 *
 * <p>The delimiter "--boundary" counts only at the start of a line and followed by nothing but "--" or
 * white space (RFC 2046 §5.1.1), so an inner multipart's boundary never ends an outer part.
 */
final class MimeLayout {
  private MimeLayout() {}

  /** Longest header block of one part that is kept for parsing (a part with more is treated as a leaf). */
  static final int MAX_HEADER = 256 * 1024;

  /**
   * One part: its header block starts at {@code start}, its body at {@code bodyStart}, and the body ends
   * (exclusive) at {@code end}, before the line break that precedes the next delimiter. For a part inside
   * a multipart, {@code delimiter} is where its opening "--boundary" line starts and {@code next} where
   * the following delimiter line starts: cutting [delimiter, next) removes exactly this part.
   */
  static final class Part {
    final long start;
    final long bodyStart;
    final long end;
    final long delimiter;
    final long next;
    final InternetHeaders headers;
    final ContentType type;
    final String boundary;
    final Part parent;
    final List<Part> children = new ArrayList<>();

    Part(long start, long bodyStart, long end, long delimiter, long next, InternetHeaders headers, ContentType type,
        String boundary, Part parent) {
      this.start = start;
      this.bodyStart = bodyStart;
      this.end = end;
      this.delimiter = delimiter;
      this.next = next;
      this.headers = headers;
      this.type = type;
      this.boundary = boundary;
      this.parent = parent;
    }

    boolean isMultipart() {
      return boundary != null;
    }

    /** Bytes this part occupies with its delimiter line, i.e. what cutting it saves. */
    long span() {
      return next - delimiter;
    }

    String header(String name) {
      return headers.getHeader(name, null);
    }

    /** Every leaf below (or this part itself if it is a leaf), in file order. */
    List<Part> leaves() {
      if (!isMultipart()) {
        return List.of(this);
      }
      List<Part> out = new ArrayList<>();
      for (Part c : children) {
        out.addAll(c.leaves());
      }
      return out;
    }
  }

  /** The part tree of a message file. */
  static Part read(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      Lines lines = new Lines(ch);
      return part(lines, 0, ch.size(), -1, -1, null);
    }
  }

  private static Part part(Lines lines, long start, long end, long delimiter, long next, Part parent)
      throws IOException {
    // header block: up to the first empty line
    lines.seek(start);
    lines.collect = true;
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    long bodyStart = end;
    boolean tooLong = false;
    while (lines.next(end)) {
      if (lines.contentLength() == 0) {
        bodyStart = lines.nextStart();
        break;
      }
      if (head.size() + lines.lineLength() > MAX_HEADER) {
        tooLong = true;
      } else {
        lines.copyLine(head);
      }
    }
    lines.collect = false;
    InternetHeaders headers;
    try {
      headers = new InternetHeaders(new ByteArrayInputStream(head.toByteArray()));
    } catch (MessagingException e) {
      headers = new InternetHeaders();
    }
    ContentType type = contentType(headers.getHeader("Content-Type", null));
    String boundary = !tooLong && type != null && type.match("multipart/*") ? type.getParameter("boundary") : null;
    if (boundary != null && (boundary.isEmpty() || boundary.length() > 200)) {
      boundary = null;
    }
    Part p = new Part(start, bodyStart, end, delimiter, next, headers, type, boundary, parent);
    if (boundary != null) {
      children(lines, p, boundary.getBytes(StandardCharsets.ISO_8859_1));
    }
    return p;
  }

  /** Finds the delimiter lines of a multipart body and reads each part between them. */
  private static void children(Lines lines, Part p, byte[] boundary) throws IOException {
    List<long[]> delims = new ArrayList<>(); // {line start, next line start, end of the content before it}
    long closeAt = -1;
    lines.seek(p.bodyStart);
    long prevContentEnd = p.bodyStart;
    while (lines.next(p.end)) {
      int kind = lines.delimiter(boundary);
      if (kind != 0) {
        delims.add(new long[] {lines.lineStart(), lines.nextStart(), prevContentEnd});
        if (kind == 2) {
          closeAt = lines.lineStart();
          break;
        }
      }
      prevContentEnd = lines.contentEnd();
    }
    // no close delimiter: the last part runs to the end of the body (lenient, as mail clients are)
    for (int i = 0; i < delims.size(); i++) {
      long[] d = delims.get(i);
      if (i + 1 == delims.size() && d[0] == closeAt) {
        break;
      }
      long partStart = d[1];
      long partEnd = i + 1 < delims.size() ? delims.get(i + 1)[2] : p.end;
      long nextDelim = i + 1 < delims.size() ? delims.get(i + 1)[0] : p.end;
      if (partStart > partEnd) {
        partEnd = partStart; // an empty part: the delimiter right after the previous one
      }
      p.children.add(part(lines, partStart, partEnd, d[0], nextDelim, p));
    }
  }

  private static ContentType contentType(String value) {
    if (value == null) {
      return null;
    }
    try {
      return new ContentType(value);
    } catch (ParseException e) {
      return null;
    }
  }

  /** Cuts {@code cuts} (sorted, non-overlapping [from, to) ranges, with replacement bytes) out of the file. */
  static byte[] without(Path file, List<Cut> cuts, long expectedSize) throws IOException {
    List<Cut> sorted = new ArrayList<>(cuts);
    Collections.sort(sorted, (a, b) -> Long.compare(a.from(), b.from()));
    ByteArrayOutputStream out = new ByteArrayOutputStream((int) Math.min(Integer.MAX_VALUE - 16, expectedSize + 256));
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long pos = 0;
      for (Cut c : sorted) {
        copy(ch, pos, c.from(), out);
        out.writeBytes(c.replacement());
        pos = c.to();
      }
      copy(ch, pos, ch.size(), out);
    }
    return out.toByteArray();
  }

  /** A byte range of the file replaced by {@code replacement} (usually nothing). */
  record Cut(long from, long to, byte[] replacement) {}

  private static void copy(FileChannel ch, long from, long to, ByteArrayOutputStream out) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
    long pos = from;
    while (pos < to) {
      buf.clear();
      buf.limit((int) Math.min(buf.capacity(), to - pos));
      int n = ch.read(buf, pos);
      if (n < 0) {
        break;
      }
      out.write(buf.array(), 0, n);
      pos += n;
    }
  }

  /** Reads a file channel line by line (LF or CRLF), remembering positions and the first bytes of each line. */
  static final class Lines {
    private static final int KEEP = 256;
    private final FileChannel ch;
    private final ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
    private long bufStart;   // file position of buf[0]
    private int bufLen;
    private long pos;        // next unread file position
    private long lineStart;
    private long contentEnd; // before CR LF
    private long nextStart;
    private final byte[] head = new byte[KEEP];
    private int headLen;
    private final ByteArrayOutputStream line = new ByteArrayOutputStream();
    private boolean lineFits;
    /** Whether whole lines are kept for {@link #copyLine} (header blocks only; bodies are just scanned). */
    boolean collect;

    Lines(FileChannel ch) {
      this.ch = ch;
    }

    void seek(long p) {
      pos = p;
      bufLen = 0;
      bufStart = p;
    }

    private int byteAt(long p) throws IOException {
      if (p < bufStart || p >= bufStart + bufLen) {
        buf.clear();
        int n = ch.read(buf, p);
        if (n <= 0) {
          return -1;
        }
        bufStart = p;
        bufLen = n;
      }
      return buf.get((int) (p - bufStart)) & 0xff;
    }

    /** Reads the next line that starts before {@code limit}; false at the limit or end of file. */
    boolean next(long limit) throws IOException {
      if (pos >= limit) {
        return false;
      }
      lineStart = pos;
      headLen = 0;
      line.reset();
      lineFits = true;
      long p = pos;
      int b;
      while (p < limit && (b = byteAt(p)) >= 0) {
        p++;
        if (b == '\n') {
          break;
        }
        if (headLen < KEEP) {
          head[headLen++] = (byte) b;
        }
        if (collect && lineFits && line.size() < MAX_HEADER) {
          line.write(b);
        } else {
          lineFits = false;
        }
      }
      nextStart = p;
      long ce = p;
      if (ce > lineStart && byteAt(ce - 1) == '\n') {
        ce--;
      }
      if (ce > lineStart && byteAt(ce - 1) == '\r') {
        ce--;
      }
      contentEnd = ce;
      pos = p;
      return p > lineStart;
    }

    long lineStart() {
      return lineStart;
    }

    long contentEnd() {
      return contentEnd;
    }

    long nextStart() {
      return nextStart;
    }

    long contentLength() {
      return contentEnd - lineStart;
    }

    long lineLength() {
      return nextStart - lineStart;
    }

    /** Appends the whole current line (with its line break) to {@code out}; lines are kept up to MAX_HEADER. */
    void copyLine(ByteArrayOutputStream out) {
      byte[] b = line.toByteArray();
      int n = b.length > 0 && b[b.length - 1] == '\r' ? b.length - 1 : b.length;
      out.write(b, 0, n);
      out.write('\r');
      out.write('\n');
    }

    /** 0: not a delimiter of {@code boundary}; 1: "--boundary"; 2: the close delimiter "--boundary--". */
    int delimiter(byte[] boundary) {
      long len = contentLength();
      if (len > KEEP || len < boundary.length + 2 || head[0] != '-' || head[1] != '-') {
        return 0;
      }
      int n = (int) len;
      for (int i = 0; i < boundary.length; i++) {
        if (head[2 + i] != boundary[i]) {
          return 0;
        }
      }
      int i = 2 + boundary.length;
      int kind = 1;
      if (i + 2 <= n && head[i] == '-' && head[i + 1] == '-') {
        kind = 2;
        i += 2;
      }
      // only linear white space may follow (RFC 2046 §5.1.1 transport-padding)
      for (; i < n; i++) {
        if (head[i] != ' ' && head[i] != '\t') {
          return 0;
        }
      }
      return kind;
    }
  }
}
