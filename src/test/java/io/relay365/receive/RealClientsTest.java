package io.relay365.receive;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.relay365.config.Settings;
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** Real SMTP clients through STARTTLS and AUTH against the listener, with only a loopback-free network list. */
class RealClientsTest extends FrontDoorFixture {
  private Settings.Smtp tlsAndAuth() throws IOException {
    return base().withAllowedNetworks(List.of()).withTls(tls(false, false))
        .withAuth(auth(List.of(), Duration.ofMillis(10)));
  }

  @Test
  void jakartaMailWithStarttlsAndAuth() throws Exception {
    start(tlsAndAuth());
    Properties p = new Properties();
    p.put("mail.smtp.host", "127.0.0.1");
    p.put("mail.smtp.port", String.valueOf(listener.port()));
    p.put("mail.smtp.localhost", "client.example");
    p.put("mail.smtp.starttls.enable", "true");
    p.put("mail.smtp.starttls.required", "true");
    p.put("mail.smtp.auth", "true");
    p.put("mail.smtp.ssl.socketFactory", clientTls());
    p.put("mail.smtp.ssl.protocols", "TLSv1.3 TLSv1.2");
    Session session = Session.getInstance(p);
    MimeMessage m = new MimeMessage(session);
    m.setFrom(new InternetAddress("scans@example.com"));
    m.setRecipients(Message.RecipientType.TO, "a@example.com");
    m.setSubject("over TLS");
    m.setText("hello\n", "UTF-8");
    Transport.send(m, "scanner", PASSWORD);
    assertThat(queued).hasSize(1);
    assertThat(mailLines()).contains("authenticated user=scanner client=127.0.0.1");
  }

  @Test
  void pythonSmtplibWithStarttlsAndAuth() throws Exception {
    Assumptions.assumeTrue(available("python3", "--version"), "python3 not available");
    start(tlsAndAuth());
    Path caPem = dir.resolve("ca.pem");
    ca.writeCertificate(caPem);
    String script = String.join("\n",
        "import smtplib, ssl, sys",
        "ctx = ssl.create_default_context(cafile=sys.argv[2])",
        "with smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='client.example', timeout=20) as s:",
        "    s.ehlo()",
        "    assert not s.has_extn('auth'), 'AUTH offered before TLS'",
        "    assert not s.has_extn('pipelining') and not s.has_extn('chunking')",
        "    s.starttls(context=ctx)",
        "    s.ehlo()",
        "    s.login('scanner', sys.argv[3])",
        "    s.sendmail('scans@example.com', ['a@example.com'], b'Subject: py\\r\\n\\r\\nline\\n.dot\\n')",
        "print('sent')",
        "");
    Path py = Files.writeString(dir.resolve("send.py"), script);
    String out = run("python3", py.toString(), String.valueOf(listener.port()), caPem.toString(), PASSWORD);
    assertThat(out.trim()).isEqualTo("sent");
    assertThat(queued).hasSize(1);
  }

  @Test
  void swaksWithStarttlsAndAuth() throws Exception {
    Assumptions.assumeTrue(available("swaks", "--version"), "swaks not installed");
    start(tlsAndAuth());
    String out = run("swaks", "--server", "127.0.0.1", "--port", String.valueOf(listener.port()),
        "--helo", "client.example", "--from", "scans@example.com", "--to", "a@example.com", "--tls",
        "--auth", "PLAIN", "--auth-user", "scanner", "--auth-password", PASSWORD, "--header", "Subject: swaks");
    assertThat(out).contains("250 2.0.0 Ok: queued as");
    assertThat(queued).hasSize(1);
  }

  private static boolean available(String... cmd) {
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException | InterruptedException e) {
      return false;
    }
  }

  private static String run(String... cmd) throws Exception {
    Process proc = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(proc.getInputStream().readAllBytes(), UTF_8);
    assertThat(proc.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(proc.exitValue()).as(out).isZero();
    return out;
  }
}
