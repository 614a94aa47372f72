package io.relay365;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** A raw SMTP client for transcript-style tests: send exact bytes, expect reply codes. */
final class SmtpDialog implements AutoCloseable {
  private final Socket socket;
  private final BufferedReader in;
  private final OutputStream out;

  SmtpDialog(int port) throws IOException {
    socket = new Socket("127.0.0.1", port);
    socket.setSoTimeout(30_000);
    in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.ISO_8859_1));
    out = socket.getOutputStream();
    expect("220");
  }

  /** Sends one command line (CRLF added) and returns the full (possibly multi-line) reply. */
  String command(String line) throws IOException {
    send((line + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
    return reply();
  }

  String expect(String code, String line) throws IOException {
    String r = command(line);
    assertThat(r).as("reply to %s", line).startsWith(code);
    return r;
  }

  void send(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
  }

  String expect(String code) throws IOException {
    String r = reply();
    assertThat(r).startsWith(code);
    return r;
  }

  String reply() throws IOException {
    StringBuilder sb = new StringBuilder();
    String line;
    while ((line = in.readLine()) != null) {
      sb.append(line).append('\n');
      if (line.length() < 4 || line.charAt(3) != '-') {
        break;
      }
    }
    return sb.toString();
  }

  /** A whole transaction; {@code data} must already be dot-stuffed and must not hold the final dot. Returns the queue id. */
  String send(String from, String[] rcpts, byte[] data) throws IOException {
    expect("250", "MAIL FROM:<" + from + ">");
    for (String r : rcpts) {
      expect("250", "RCPT TO:<" + r + ">");
    }
    expect("354", "DATA");
    send(data);
    send(".\r\n".getBytes(StandardCharsets.ISO_8859_1));
    String r = expect("250");
    assertThat(r).contains("Ok: queued as ");
    return r.trim().substring(r.indexOf("queued as ") + "queued as ".length());
  }

  @Override
  public void close() throws IOException {
    try {
      command("QUIT");
    } finally {
      socket.close();
    }
  }
}
