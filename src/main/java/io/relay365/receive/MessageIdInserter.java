package io.relay365.receive;

import java.io.IOException;
import java.io.OutputStream;

/**
 * Passes a message through byte for byte, adding a {@code Message-ID:} field at the end of the
 * top-level header block when the block has none (RFC 5322 3.6.4: every message SHOULD have one, and
 * Exchange and most filters expect it). The header block ends at the first empty line ({@code CRLF CRLF},
 * or a bare LF line: line endings are not normalised here); the field goes just before that empty line.
 * A message without an empty line is all header: the field is appended at the end, after a CRLF if the
 * last line is unterminated. Nothing is buffered beyond one held CR, so a large message streams through.
 */
final class MessageIdInserter extends OutputStream {
  private static final byte[] NAME = "message-id".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  private static final int NOT_A_MATCH = -1;

  private final OutputStream out;
  private final byte[] field;
  private boolean inHeaders = true;
  private boolean seen;
  private boolean atLineStart = true;
  private boolean heldCr;
  /** How many bytes of "message-id" the current line starts with; NAME.length = name complete. */
  private int matched;
  private boolean finished;

  /** @param field the complete field to add, ending in CRLF */
  MessageIdInserter(OutputStream out, byte[] field) {
    this.out = out;
    this.field = field.clone();
  }

  /** Whether the message already had a Message-ID (valid after {@link #finish}). */
  boolean hadMessageId() {
    return seen;
  }

  @Override
  public void write(int b) throws IOException {
    write(new byte[] {(byte) b}, 0, 1);
  }

  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    int end = off + len;
    int i = off;
    while (i < end && inHeaders) {
      scan(b[i++]);
    }
    // past the header block: plain pass-through of the rest of the chunk
    if (i < end) {
      out.write(b, i, end - i);
    }
  }

  private void scan(byte c) throws IOException {
    if (heldCr) {
      heldCr = false;
      if (c == '\n') {
        endOfHeaders();
        out.write('\r');
        out.write('\n');
        return;
      }
      out.write('\r'); // a line starting with a bare CR: not an empty line
      atLineStart = false;
      matched = NOT_A_MATCH;
    }
    if (atLineStart) {
      if (c == '\r') {
        heldCr = true; // maybe the empty line: the field has to go before it
        return;
      }
      if (c == '\n') {
        endOfHeaders();
        out.write(c);
        return;
      }
      atLineStart = false;
      matched = 0;
    }
    out.write(c);
    if (c == '\n') {
      atLineStart = true;
      return;
    }
    if (matched == NOT_A_MATCH) {
      return;
    }
    if (matched < NAME.length) {
      matched = Character.toLowerCase((char) (c & 0xff)) == NAME[matched] ? matched + 1 : NOT_A_MATCH;
    } else if (c == ':') {
      seen = true;
      matched = NOT_A_MATCH;
    } else if (c != ' ' && c != '\t') { // RFC 5322 4.5.6 obsolete syntax allows WSP before the colon
      matched = NOT_A_MATCH;
    }
  }

  private void endOfHeaders() throws IOException {
    inHeaders = false;
    if (!seen) {
      out.write(field);
    }
  }

  /** Ends the message: adds the field if the message was all header. Does not close the target. */
  void finish() throws IOException {
    if (finished) {
      return;
    }
    finished = true;
    if (!inHeaders) {
      return;
    }
    inHeaders = false;
    if (heldCr) {
      out.write('\r');
      atLineStart = false;
    }
    if (!seen) {
      if (!atLineStart) {
        out.write('\r');
        out.write('\n');
      }
      out.write(field);
    }
  }

  @Override
  public void flush() throws IOException {
    out.flush();
  }
}
