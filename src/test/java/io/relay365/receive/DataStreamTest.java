package io.relay365.receive;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.subethamail.smtp.internal.io.DotTerminatedInputStream;
import org.subethamail.smtp.internal.io.DotUnstuffingInputStream;

/**
 * DataStream gives exactly what subethasmtp's DotTerminatedInputStream + DotUnstuffingInputStream give
 * (the smuggling rules rest on them), and leaves exactly the same bytes unread after the end of data
 * (pipelined commands): checked on random streams made of the pieces that matter.
 */
class DataStreamTest {

  @Provide
  Arbitrary<byte[]> streams() {
    Arbitrary<String> piece = Arbitraries.of("\r\n", "\r", "\n", ".", "..", ".\r\n", "\r\n.\r\n", "\r\n..\r\n",
        "x", "hello", "\n.\n", "\r\n.", "\r\n.\r", "QUIT\r\n", "MAIL FROM:<a@b>\r\n");
    return piece.list().ofMaxSize(60).map(l -> String.join("", l).getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
  }

  @Property(tries = 3000)
  void sameContentAndSameRestAsTheLibrary(@ForAll("streams") byte[] input,
      @ForAll("sizes") int bufferSize, @ForAll("sizes") int readSize) throws IOException {
    Result lib = drain(input, bufferSize, readSize, true);
    Result ours = drain(input, bufferSize, readSize, false);
    assertThat(ours.content).isEqualTo(lib.content);
    assertThat(ours.eof).isEqualTo(lib.eof);
    assertThat(ours.rest).isEqualTo(lib.rest);
  }

  @Provide
  Arbitrary<Integer> sizes() {
    return Arbitraries.of(1, 2, 3, 7, 64, 8192);
  }

  @Property(tries = 50)
  void aLargeMessageIsTheSame(@ForAll("sizes") int readSize) throws IOException {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 20000; i++) {
      sb.append(i % 97 == 0 ? ".dotted line " : "line ").append(i).append("\r\n");
    }
    sb.append(".\r\nQUIT\r\n");
    byte[] input = sb.toString().getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    Result lib = drain(input, 4096, readSize, true);
    Result ours = drain(input, 4096, readSize, false);
    assertThat(ours.content).isEqualTo(lib.content);
    assertThat(ours.rest).isEqualTo(lib.rest).isEqualTo("QUIT\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
  }

  record Result(byte[] content, boolean eof, byte[] rest) {}

  private static Result drain(byte[] input, int bufferSize, int readSize, boolean library) throws IOException {
    // the session's input: a BufferedInputStream over a socket that hands out small pieces
    InputStream socket = new ByteArrayInputStream(input) {
      @Override
      public synchronized int read(byte[] b, int off, int len) {
        return super.read(b, off, Math.min(len, 5));
      }
    };
    BufferedInputStream session = new BufferedInputStream(socket, bufferSize);
    InputStream data = library ? new DotUnstuffingInputStream(new DotTerminatedInputStream(session))
        : new DataStream(session);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    boolean eof = false;
    byte[] b = new byte[readSize];
    try {
      int n;
      while ((n = data.read(b, 0, b.length)) != -1) {
        out.write(b, 0, n);
      }
    } catch (EOFException e) {
      eof = true;
    }
    return new Result(out.toByteArray(), eof, eof ? new byte[0] : session.readAllBytes());
  }
}
