package io.relay365.receive;

import java.io.IOException;
import java.io.OutputStream;

/**
 * Normalises stray line ends in message content, after subethasmtp has found the end of the data
 * (only CRLF.CRLF, for every client) and undone the dot-stuffing of lines that follow a CRLF.
 * A bare LF, a bare CR, and the CR of CR CR LF each become CRLF (RFC 5321 2.3.8: lines end in CRLF;
 * Exchange Online mangles anything else), and a line that starts after such a bare line end is
 * dot-unstuffed too: the client stuffed the dot for a line it ended with a bare LF, so "\n..x" means
 * ".x" (RFC 5321 4.5.2). This is Postfix's smtpd_forbid_bare_newline=normalize reading; the library
 * alone would keep both dots. Counts what it changed, for the mail log and for smtp.bare-lf: reject.
 * Streams: holds at most one CR.
 */
final class LineEndings extends OutputStream {
  private static final byte[] CRLF = {'\r', '\n'};

  private final OutputStream out;
  private boolean heldCr;
  /** The current line began after a bare line end: its first dot is a stuffed one. */
  private boolean unstuff;
  private long bareLf;
  private long bareCr;

  LineEndings(OutputStream out) {
    this.out = out;
  }

  long bareLf() {
    return bareLf;
  }

  long bareCr() {
    return bareCr;
  }

  boolean changed() {
    return bareLf + bareCr > 0;
  }

  @Override
  public void write(int b) throws IOException {
    byte c = (byte) b;
    if (heldCr) {
      heldCr = false;
      if (c == '\n') {
        out.write(CRLF);
        unstuff = false; // a real CRLF: the library has unstuffed the next line already
        return;
      }
      bareCr++;
      out.write(CRLF);
      unstuff = true;
    }
    if (c == '\r') {
      heldCr = true;
    } else if (c == '\n') {
      bareLf++;
      out.write(CRLF);
      unstuff = true;
    } else if (unstuff && c == '.') {
      unstuff = false;
    } else {
      unstuff = false;
      out.write(c);
    }
  }

  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    // Runs of ordinary bytes go out in one call; only CR, LF and a possibly stuffed dot go byte by byte.
    int end = off + len;
    int i = off;
    while (i < end) {
      if (heldCr || unstuff) {
        write(b[i++]);
        continue;
      }
      int run = i;
      while (run < end && b[run] != '\r' && b[run] != '\n') {
        run++;
      }
      if (run > i) {
        out.write(b, i, run - i);
        i = run;
      } else {
        write(b[i++]);
      }
    }
  }

  /** Ends the content: a final bare CR becomes CRLF. Does not close the target. */
  void finish() throws IOException {
    if (heldCr) {
      heldCr = false;
      bareCr++;
      out.write(CRLF);
    }
  }

  @Override
  public void flush() throws IOException {
    out.flush();
  }
}
