package io.relay365.receive;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;

/** A raw SMTP client for transcript tests: send a line, expect a reply code (ServerTestCase style). */
final class SmtpDialog implements AutoCloseable {
  private Socket socket;
  private BufferedReader in;
  private OutputStream out;

  SmtpDialog(int port) throws IOException {
    this(new Socket(InetAddress.getLoopbackAddress(), port));
  }

  /** Over a socket already connected (e.g. an SSLSocket to the implicit-TLS port). */
  SmtpDialog(Socket connected) throws IOException {
    use(connected);
  }

  private void use(Socket s) throws IOException {
    socket = s;
    socket.setSoTimeout(20_000);
    in = new BufferedReader(new InputStreamReader(socket.getInputStream(), ISO_8859_1));
    out = socket.getOutputStream();
  }

  /** STARTTLS, expecting 220, then the handshake; returns the negotiated protocol. */
  String startTls(javax.net.ssl.SSLSocketFactory factory) throws IOException {
    send("STARTTLS").expect("220");
    javax.net.ssl.SSLSocket tls = (javax.net.ssl.SSLSocket) factory.createSocket(socket, "localhost",
        socket.getPort(), true);
    tls.startHandshake();
    use(tls);
    return tls.getSession().getProtocol();
  }

  /** Sends one command line; CRLF is added. */
  SmtpDialog send(String line) throws IOException {
    return raw((line + "\r\n").getBytes(ISO_8859_1));
  }

  SmtpDialog raw(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
    return this;
  }

  /** Reads one complete (possibly multi-line) reply, checks its code and returns its text, lines joined by \n. */
  String expect(String code) throws IOException {
    StringBuilder reply = new StringBuilder();
    String line;
    do {
      line = in.readLine();
      assertThat(line).as("reply to expect %s (so far: %s)", code, reply).isNotNull();
      if (reply.length() > 0) {
        reply.append('\n');
      }
      reply.append(line);
    } while (line.length() > 3 && line.charAt(3) == '-');
    assertThat(reply.toString()).as("reply").startsWith(code);
    return reply.toString();
  }

  /** EHLO + MAIL + RCPT + DATA up to the 354. */
  SmtpDialog begin(String from, String... rcpts) throws IOException {
    send("MAIL FROM:<" + from + ">").expect("250");
    for (String r : rcpts) {
      send("RCPT TO:<" + r + ">").expect("250");
    }
    send("DATA").expect("354");
    return this;
  }

  boolean closedByServer() throws IOException {
    return in.readLine() == null;
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
