package io.relay365.receive;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;

/**
 * The message after DATA, as subethasmtp 7.2.2's DotTerminatedInputStream + DotUnstuffingInputStream give
 * it, byte for byte (the smuggling rules depend on it: only CRLF.CRLF ends the data, RFC 5321 4.1.1.4), but
 * a block at a time. The library's pair costs several calls and a lock per byte (BufferedInputStream.read()
 * is synchronized), which the profile of the benchmark showed as the SMTP side's largest Java cost and
 * which makes a 50 MB message take seconds of CPU.
 *
 * <p>Exactly as the library: the data ends at the first ".CRLF" that follows a CRLF, counting the CRLF
 * that precedes the data (so ".CRLF" at once is an empty message); a '.' that follows a CRLF of the
 * returned content is removed (not at the very start: the library's unstuffing starts without a previous
 * line); the end of the connection before the end of data is an EOFException. And it reads nothing past
 * the final ".CRLF": the session's buffered input is marked before each block and reset to just after the
 * terminator, so pipelined commands (and the checks that look for them) see the same bytes as before.
 */
final class DataStream extends InputStream {
  private static final int BLOCK = 32 * 1024;

  private final BufferedInputStream in;
  private final byte[] buf = new byte[BLOCK + 3];
  private int pos;        // next byte of buf to look at
  private int lim;        // end of valid bytes in buf
  private int carried;    // buf[0, carried) was read from `in` before the current mark
  private boolean eof;    // `in` has ended
  private boolean end;    // the terminator was seen (and consumed exactly)
  // DotTerminatedInputStream: the last two bytes it returned (initially CRLF)
  private int t0 = '\r';
  private int t1 = '\n';
  // DotUnstuffingInputStream: the last two bytes it returned (initially none)
  private int u0 = -1;
  private int u1 = -1;

  DataStream(BufferedInputStream in) {
    this.in = in;
  }

  @Override
  public int read() throws IOException {
    byte[] one = new byte[1];
    int n = read(one, 0, 1);
    return n <= 0 ? -1 : one[0] & 0xff;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (len == 0) {
      return 0;
    }
    int n = 0;
    while (n < len) {
      int c = next();
      if (c == -1) {
        break;
      }
      if (c == '.' && u0 == '\r' && u1 == '\n') {
        c = next(); // a stuffed dot: the library returns the byte after it instead
      }
      u0 = u1;
      u1 = c;
      if (c == -1) {
        break;
      }
      b[off + n++] = (byte) c;
    }
    return n == 0 ? -1 : n;
  }

  /** DotTerminatedInputStream.read(): the next data byte, or -1 at the terminator. */
  private int next() throws IOException {
    if (end) {
      return -1;
    }
    if (lim - pos < 3 && !eof) {
      fill();
    }
    int avail = lim - pos;
    if (t0 == '\r' && t1 == '\n' && avail >= 3 && buf[pos] == '.' && buf[pos + 1] == '\r' && buf[pos + 2] == '\n') {
      finish(pos + 3);
      return -1;
    }
    if (avail == 0) {
      throw new EOFException("Pre-mature end of <CRLF>.<CRLF> terminated data");
    }
    int c = buf[pos++] & 0xff;
    t0 = t1;
    t1 = c;
    return c;
  }

  /** Keeps the unread lookahead, marks the session input and reads the next block after it. */
  private void fill() throws IOException {
    int keep = lim - pos;
    System.arraycopy(buf, pos, buf, 0, keep);
    pos = 0;
    lim = keep;
    carried = keep;
    in.mark(BLOCK);
    int n = in.read(buf, lim, BLOCK);
    while (n == 0) {
      n = in.read(buf, lim, BLOCK);
    }
    if (n < 0) {
      eof = true;
      return;
    }
    lim += n;
    if (lim - pos < 3) {
      // fewer than three bytes arrived: the library would block for the rest too; read them one by one
      int c;
      while (lim - pos < 3 && (c = in.read()) != -1) {
        buf[lim++] = (byte) c;
        in.mark(BLOCK); // the byte read alone is consumed for good; the mark moves past it
        carried = lim;
      }
      if (lim - pos < 3) {
        eof = true;
      }
    }
  }

  /** The terminator ends at buf[upTo - 1]: give back whatever the last block read after it. */
  private void finish(int upTo) throws IOException {
    end = true;
    if (upTo < lim) {
      in.reset();
      long skip = upTo - carried;
      while (skip > 0) {
        long s = in.skip(skip);
        if (s <= 0) {
          throw new IOException("cannot give back the bytes after the end of data");
        }
        skip -= s;
      }
    }
  }
}
