package io.relay365.sandbox;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The sandbox SMTP server's reader: command lines and DATA from one buffer, so that commands pipelined
 * after the data (RFC 2920) stay where they are. A new one is made after STARTTLS, which drops whatever was
 * buffered in clear text (RFC 3207 §6).
 */
final class SmtpWire {
  /** Longest command line accepted (RFC 5321 4.5.3.1.4 asks for 512; Exchange takes more). */
  private static final int MAX_LINE = 4096;
  private final InputStream in;
  private final byte[] buf = new byte[64 * 1024];
  private int pos;
  private int lim;

  SmtpWire(InputStream in) {
    this.in = in;
  }

  /** At least {@code n} bytes buffered, or false at end of stream. */
  private boolean ensure(int n) throws IOException {
    if (lim - pos >= n) {
      return true;
    }
    if (pos > 0) {
      System.arraycopy(buf, pos, buf, 0, lim - pos);
      lim -= pos;
      pos = 0;
    }
    while (lim - pos < n) {
      int r = in.read(buf, lim, buf.length - lim);
      if (r < 0) {
        return false;
      }
      lim += r;
    }
    return true;
  }

  /** One command line without its CRLF (a bare LF is tolerated), or null at end of stream. */
  String readLine() throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream(128);
    while (true) {
      if (!ensure(1)) {
        return null;
      }
      int lf = -1;
      for (int i = pos; i < lim; i++) {
        if (buf[i] == '\n') {
          lf = i;
          break;
        }
      }
      int end = lf < 0 ? lim : lf;
      line.write(buf, pos, end - pos);
      pos = lf < 0 ? lim : lf + 1;
      if (line.size() > MAX_LINE) {
        throw new IOException("command line too long");
      }
      if (lf >= 0) {
        byte[] b = line.toByteArray();
        int n = b.length > 0 && b[b.length - 1] == '\r' ? b.length - 1 : b.length;
        return new String(b, 0, n, StandardCharsets.UTF_8);
      }
    }
  }

  /**
   * The message up to the line holding only "." (RFC 5321 4.1.1.4), dot-unstuffed (4.5.2), into {@code sink};
   * beyond {@code max} bytes it is read but not kept. True if it fitted.
   */
  boolean readData(OutputStream sink, long max) throws IOException {
    long size = 0;
    boolean bol = true;
    while (true) {
      if (!ensure(1)) {
        throw new EOFException("connection closed during DATA");
      }
      if (bol && buf[pos] == '.') {
        if (ensure(3) && buf[pos + 1] == '\r' && buf[pos + 2] == '\n') {
          pos += 3;
          return size <= max;
        }
        if (lim - pos < 1) {
          throw new EOFException("connection closed during DATA");
        }
        pos++; // the stuffed dot
        bol = false;
        continue;
      }
      int lf = -1;
      for (int i = pos; i < lim; i++) {
        if (buf[i] == '\n') {
          lf = i;
          break;
        }
      }
      int end = lf < 0 ? lim : lf + 1;
      int n = end - pos;
      if (size + n <= max) {
        sink.write(buf, pos, n);
      }
      size += n;
      pos = end;
      bol = lf >= 0;
    }
  }
}
