package io.relay365.deliver;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * The MIME of a spooled message as it goes to Exchange: Bcc: removed ({@link HiddenRecipients}) and repaired
 * ({@link MimeHygiene}), with the hidden recipients beside it.
 *
 * <p>ews-java-api's sends take {@link #inMemory} and its {@link #bytes()}. For the streamed CreateItem
 * (messages above {@link EwsTransport#STREAM_ABOVE}) there are two ways to the same bytes. A message up to
 * {@link #STREAM_ABOVE} is read whole and cleaned in memory. A larger one is first scanned: if its lines all end in CRLF and none is longer than 998 octets (what the
 * SMTP listener stores, LineEndings having repaired bare line ends), only its header block needs the
 * repairs, so the header block is cleaned in memory and the body is streamed from the spool file as it is;
 * the result is byte for byte what cleaning the whole message would give, because every repair but the
 * header encoding concerns line ends and long lines. Otherwise it is cleaned in memory too.
 */
final class SpooledMime implements EwsCreateItem.Mime {
  /** Messages up to this size are cleaned in memory (cheap at this size; nothing to gain by streaming). */
  static final long STREAM_ABOVE = 512 * 1024;
  private static final int MAX_LINE = 998;

  private final byte[] head;     // the whole cleaned message, or its cleaned header block
  private final Path file;       // null, or the spool file whose bytes from bodyStart follow head
  private final long bodyStart;
  private final long bodyLength;
  private final List<String> bcc;

  private SpooledMime(byte[] head, Path file, long bodyStart, long bodyLength, List<String> bcc) {
    this.head = head;
    this.file = file;
    this.bodyStart = bodyStart;
    this.bodyLength = bodyLength;
    this.bcc = bcc;
  }

  /** The message with its body streamed from the file; {@code bodyStart} from {@link #streamableBodyStart}. */
  static SpooledMime streamed(Path message, long size, long bodyStart, List<String> envelopeRecipients,
      MimeHygiene hygiene) throws IOException {
    byte[] header;
    try (InputStream in = java.nio.file.Files.newInputStream(message)) {
      header = in.readNBytes((int) bodyStart);
    }
    List<String> bcc = HiddenRecipients.of(envelopeRecipients, MessageHeaders.parse(header));
    return new SpooledMime(hygiene.clean(HiddenRecipients.stripBcc(header)), message, bodyStart, size - bodyStart,
        bcc);
  }

  /** The message read whole and cleaned in memory. */
  static SpooledMime inMemory(Path message, List<String> envelopeRecipients, MimeHygiene hygiene)
      throws IOException {
    return inMemory(java.nio.file.Files.readAllBytes(message), envelopeRecipients, hygiene);
  }

  static SpooledMime inMemory(byte[] original, List<String> envelopeRecipients, MimeHygiene hygiene) {
    List<String> bcc = HiddenRecipients.of(envelopeRecipients, MessageHeaders.parse(original));
    return new SpooledMime(hygiene.clean(HiddenRecipients.stripBcc(original)), null, 0, 0, bcc);
  }

  /** The whole cleaned MIME, for ews-java-api; only for a message made by {@link #inMemory}. */
  byte[] bytes() {
    if (file != null) {
      throw new IllegalStateException("streamed from the spool: use open()");
    }
    return head;
  }

  /** Whether the body is streamed from the spool file (else the whole MIME is in memory). */
  boolean streamed() {
    return file != null;
  }

  List<String> bcc() {
    return bcc;
  }

  @Override
  public long length() {
    return head.length + bodyLength;
  }

  @Override
  public InputStream open() throws IOException {
    if (file == null) {
      return new ByteArrayInputStream(head);
    }
    FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
    ch.position(bodyStart);
    return new SequenceInputStream(new ByteArrayInputStream(head), Channels.newInputStream(ch));
  }

  /**
   * For a message larger than {@link #STREAM_ABOVE}: the offset just after the blank line that ends the
   * header block, if every line of the file ends in CRLF
   * and none is over 998 octets and the header block is at most {@link MessageHeaders#MAX_HEADER_BYTES};
   * else -1 (the message needs the in-memory repairs).
   */
  static long streamableBodyStart(Path message, long size) throws IOException {
    if (size <= STREAM_ABOVE) {
      return -1;
    }
    long bodyStart = -1;
    long pos = 0;
    int line = 0;        // octets in the current line, CR excluded
    boolean cr = false;  // previous byte was CR
    boolean lineEmpty = true;
    byte[] buf = new byte[64 * 1024];
    try (InputStream in = java.nio.file.Files.newInputStream(message)) {
      int n;
      while ((n = in.read(buf)) > 0) {
        for (int i = 0; i < n; i++, pos++) {
          byte b = buf[i];
          if (cr && b != '\n') {
            return -1; // bare CR
          }
          if (b == '\n') {
            if (!cr) {
              return -1; // bare LF
            }
            if (lineEmpty && bodyStart < 0) {
              bodyStart = pos + 1;
            }
            line = 0;
            lineEmpty = true;
            cr = false;
          } else if (b == '\r') {
            cr = true;
          } else {
            lineEmpty = false;
            if (++line > MAX_LINE) {
              return -1;
            }
          }
        }
        if (bodyStart < 0 && pos > MessageHeaders.MAX_HEADER_BYTES) {
          return -1;
        }
      }
    }
    return cr ? -1 : bodyStart;
  }
}
