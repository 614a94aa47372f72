package io.relay365.receive;

import static java.nio.charset.StandardCharsets.ISO_8859_1;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;

/**
 * The reply side of a connection (see {@link GuardedSocket}): line by line, adds the enhanced status
 * code the library left out ({@link Replies#enhance}) and counts permanent errors. At the limit the
 * error reply is followed by "421 4.7.0 Too many errors" and the connection is closing: nothing more
 * is written and reads see the end of the stream.
 */
final class ReplyStream extends OutputStream {
  static final String TOO_MANY_ERRORS = "421 4.7.0 Too many errors, closing connection\r\n";

  private final OutputStream out;
  private final Connection connection;
  private final ByteArrayOutputStream line = new ByteArrayOutputStream(256);

  ReplyStream(OutputStream out, Connection connection) {
    this.out = out;
    this.connection = connection;
  }

  @Override
  public void write(int b) throws IOException {
    line.write(b);
    if (b == '\n') {
      emit();
    }
  }

  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    for (int i = off; i < off + len; i++) {
      write(b[i]);
    }
  }

  private void emit() throws IOException {
    String s = line.toString(ISO_8859_1);
    line.reset();
    if (connection.closing()) {
      return; // after the 421: the session is ending, say nothing more
    }
    boolean last = s.length() < 4 || s.charAt(3) != '-';
    String reply = connection.takePlainReply(last) ? s : Replies.enhance(s);
    out.write(reply.getBytes(ISO_8859_1));
    if (last && reply.startsWith("5") && connection.countError()) {
      out.write(TOO_MANY_ERRORS.getBytes(ISO_8859_1));
      out.flush();
      connection.close();
    }
  }

  @Override
  public void flush() throws IOException {
    out.flush();
  }

  @Override
  public void close() throws IOException {
    out.close();
  }
}
