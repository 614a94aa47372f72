package io.relay365.receive;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.relay365.config.Cidr;
import io.relay365.config.Settings;
import io.relay365.config.Settings.BareLf;
import io.relay365.store.Envelope;
import io.relay365.store.Spool;
import io.relay365.tls.CertificateAuthority;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** A listener with generated certificates, a users file and the mail log captured, for front-door tests. */
abstract class FrontDoorFixture {
  static final String PASSWORD = "correct horse battery staple";
  static CertificateAuthority ca;
  static CertificateAuthority.Issued serverCert;

  @TempDir Path dir;
  SmtpListener listener;
  Spool spool;
  final List<Envelope> queued = new CopyOnWriteArrayList<>();
  final ListAppender<ILoggingEvent> mailLog = new ListAppender<>();

  @BeforeAll
  static void certificates() throws Exception {
    ca = CertificateAuthority.generate("relay365 test CA", Duration.ofDays(1));
    serverCert = ca.issueServer(List.of("localhost"), List.of("127.0.0.1"), Duration.ofDays(1));
  }

  @BeforeEach
  void mailLog() {
    mailLog.start();
    ((Logger) LoggerFactory.getLogger("relay365.mail")).addAppender(mailLog);
  }

  @AfterEach
  void stop() {
    ((Logger) LoggerFactory.getLogger("relay365.mail")).detachAppender(mailLog);
    if (listener != null) {
      listener.close();
    }
  }

  static Settings.Smtp base() {
    return new Settings.Smtp("127.0.0.1", 0, "relay.test", 1_000_000, 5, 10, Duration.ofSeconds(30));
  }

  Settings.Tls tls(boolean required, boolean implicit) throws IOException {
    Path cert = dir.resolve("smtp.pem");
    Files.writeString(cert, serverCert.certificatePem() + serverCert.keyPem());
    return new Settings.Tls(cert, cert, implicit ? "127.0.0.1" : null, 0, required);
  }

  Settings.Auth auth(List<Cidr> plain, Duration delay) throws IOException {
    Path users = dir.resolve("users");
    UsersFile.setPassword(users, "scanner", PASSWORD.toCharArray());
    return new Settings.Auth(users, plain, delay);
  }

  static List<Cidr> nets(String... cidrs) {
    return java.util.Arrays.stream(cidrs).map(Cidr::parse).toList();
  }

  SmtpListener start(Settings.Smtp smtp) throws IOException {
    spool = Spool.open(dir.resolve("spool"));
    listener = new SmtpListener(smtp, spool, queued::add);
    listener.start();
    return listener;
  }

  SmtpDialog connect() throws IOException {
    SmtpDialog d = new SmtpDialog(listener.port());
    d.expect("220 relay.test");
    return d;
  }

  static SSLSocketFactory clientTls() throws Exception {
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", ca.certificate());
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, tmf.getTrustManagers(), null);
    return ctx.getSocketFactory();
  }

  static String plain(String user, String password) {
    return Base64.getEncoder().encodeToString(("\0" + user + "\0" + password).getBytes(UTF_8));
  }

  List<String> mailLines() {
    return mailLog.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
  }

}
