package io.relay365.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/** A raw SMTP client for transcripts against the sandbox's submission endpoint, with a real STARTTLS. */
final class SubmissionDialog implements AutoCloseable {
  private final String host;
  private final int port;
  private Socket socket;
  private BufferedReader in;
  private OutputStream out;
  final String greeting;

  SubmissionDialog(String host, int port) throws IOException {
    this.host = host;
    this.port = port;
    socket = new Socket(host, port);
    socket.setSoTimeout(30_000);
    streams();
    greeting = reply();
  }

  private void streams() throws IOException {
    in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
    out = socket.getOutputStream();
  }

  /** Sends one line (CRLF added), returns the whole reply (lines joined by \n). */
  String command(String line) throws IOException {
    send(line + "\r\n");
    return reply();
  }

  String expect(String code, String line) throws IOException {
    String r = command(line);
    assertThat(r).as("reply to %s", line).startsWith(code);
    return r;
  }

  void send(String raw) throws IOException {
    out.write(raw.getBytes(StandardCharsets.UTF_8));
    out.flush();
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

  /** STARTTLS (expects 220), then a TLS handshake that checks the certificate and the host name. */
  void startTls(SSLContext tls) throws IOException {
    expect("220", "STARTTLS");
    upgrade(tls);
  }

  void upgrade(SSLContext tls) throws IOException {
    SSLSocket s = (SSLSocket) tls.getSocketFactory().createSocket(socket, host, port, true);
    SSLParameters p = s.getSSLParameters();
    p.setEndpointIdentificationAlgorithm("HTTPS");
    s.setSSLParameters(p);
    s.startHandshake();
    socket = s;
    streams();
  }

  /** EHLO, STARTTLS, EHLO. */
  void secure(SSLContext tls) throws IOException {
    expect("250", "EHLO client.example");
    startTls(tls);
    expect("250", "EHLO client.example");
  }

  String xoauth2(String user, String token) throws IOException {
    return command("AUTH XOAUTH2 " + Base64.getEncoder().encodeToString(("user=" + user + "\u0001auth=Bearer " + token
        + "\u0001\u0001").getBytes(StandardCharsets.UTF_8)));
  }

  boolean tls() {
    return socket instanceof SSLSocket;
  }

  /** True if the server closed the connection (read returns end of stream). */
  boolean closedByServer() throws IOException {
    return in.readLine() == null;
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
