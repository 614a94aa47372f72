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

/** The front door as a client meets it: who may relay, TLS, AUTH, sender rules, limits, extensions. */
class FrontDoorTest extends FrontDoorFixture {
  // --- extensions

  @Test
  void ehloAdvertisesExactlyWhatIsHonoured() throws Exception {
    start(base());
    try (SmtpDialog d = connect()) {
      assertThat(d.send("EHLO client.example").expect("250")).isEqualTo(String.join("\n",
          "250-relay.test", "250-8BITMIME", "250-SIZE 1000000", "250-ENHANCEDSTATUSCODES", "250 SMTPUTF8"));
      // every other reply carries an enhanced code (RFC 2034), including the library's own
      assertThat(d.send("NOOP").expect("250")).isEqualTo("250 2.0.0 Ok");
      assertThat(d.send("XYZZY").expect("500")).startsWith("500 5.5.2 ");
      assertThat(d.send("QUIT").expect("221")).startsWith("221 2.0.0 ");
    }
  }

  @Test
  void parametersThatWereNotAdvertisedAreRefusedDsnIsTolerated() throws Exception {
    start(base());
    try (SmtpDialog d = connect()) {
      d.send("EHLO client.example").expect("250");
      assertThat(d.send("MAIL FROM:<a@example.com> FOO=bar").expect("555")).isEqualTo("555 5.5.4 Unsupported parameter FOO");
      assertThat(d.send("MAIL FROM:<a@example.com> AUTH=<>").expect("555")).startsWith("555 5.5.4");
      assertThat(d.send("MAIL FROM:<a@example.com> BODY=BINARYMIME").expect("501")).startsWith("501 5.5.4");
      d.send("MAIL FROM:<a@example.com> BODY=8BITMIME SIZE=100 RET=HDRS ENVID=QQ314159").expect("250 2.1.0");
      assertThat(d.send("RCPT TO:<b@example.com> XRCPTFORWARD=1").expect("555")).startsWith("555 5.5.4");
      d.send("RCPT TO:<b@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.com").expect("250 2.1.5");
      d.send("DATA").expect("354");
      d.raw("Subject: dsn\r\n\r\nx\r\n.\r\n".getBytes(ISO_8859_1)).expect("250 2.0.0");
    }
    assertThat(queued).extracting(Envelope::recipients).containsExactly(List.of("b@example.com"));
  }

  @Test
  void utf8AddressesNeedSmtputf8AndIdnDomainsAreAccepted() throws Exception {
    start(base());
    try (SmtpDialog d = connect()) {
      d.send("EHLO client.example").expect("250");
      d.raw("MAIL FROM:<δοκιμή@παράδειγμα.δοκιμή>\r\n".getBytes(UTF_8));
      assertThat(d.expect("553")).isEqualTo("553 5.6.7 Non-ASCII address needs the SMTPUTF8 parameter");
      d.raw("MAIL FROM:<δοκιμή@παράδειγμα.δοκιμή> SMTPUTF8\r\n".getBytes(UTF_8)).expect("250");
      d.raw("RCPT TO:<jörg@bücher.example>\r\n".getBytes(UTF_8)).expect("250");
      d.send("RCPT TO:<x@xn--bcher-kva.example>").expect("250");
      assertThat(d.send("RCPT TO:<x@bad..domain>").expect("501")).startsWith("501 5.1.3");
      d.send("DATA").expect("354");
      d.raw("Subject: utf8\r\n\r\nx\r\n.\r\n".getBytes(ISO_8859_1)).expect("250");
    }
    assertThat(queued.get(0).sender()).isEqualTo("δοκιμή@παράδειγμα.δοκιμή");
    assertThat(queued.get(0).recipients()).containsExactly("jörg@bücher.example", "x@xn--bcher-kva.example");
  }

  @Test
  void bdatAndHttpRequestsCloseTheConnection() throws Exception {
    start(base());
    try (SmtpDialog d = connect()) {
      d.send("EHLO client.example").expect("250");
      d.send("MAIL FROM:<a@example.com>").expect("250");
      d.send("RCPT TO:<b@example.com>").expect("250");
      assertThat(d.send("BDAT 5 LAST").expect("502")).startsWith("502 5.5.1 BDAT is not supported");
      assertThat(d.closedByServer()).isTrue();
    }
    for (String http : List.of("GET / HTTP/1.1", "POST /x HTTP/1.1", "CONNECT example.com:443 HTTP/1.1")) {
      try (SmtpDialog d = connect()) {
        assertThat(d.send(http).expect("502")).as(http).contains("not HTTP");
        assertThat(d.closedByServer()).as(http).isTrue();
      }
    }
    assertThat(queued).isEmpty();
  }

  // --- who may relay

  @Test
  void aClientOutsideTheNetworksIsRefusedAtConnectWhenItCannotAuthenticate() throws Exception {
    start(base().withAllowedNetworks(nets("10.0.0.0/8", "fd00::/8")));
    try (SmtpDialog d = new SmtpDialog(listener.port())) {
      assertThat(d.expect("554")).isEqualTo("554 5.7.1 127.0.0.1 may not use this relay");
      assertThat(d.closedByServer()).isTrue();
    }
    assertThat(mailLines()).contains("refused client=127.0.0.1 reason=not-in-allowed-networks");
  }

  @Test
  void openRelayMistakesAreRefusedBeforeAnythingListens() throws Exception {
    spool = Spool.open(dir.resolve("spool"));
    // 0.0.0.0/0 (e.g. "AUTH is required anyway"), ::/0, and all IPv4 written as IPv4-mapped IPv6
    for (String wide : List.of("0.0.0.0/0", "::/0", "::ffff:0:0/96", "0.0.0.0/4", "128.0.0.0/1")) {
      Settings.Smtp s = base().withAllowedNetworks(nets(wide)).withAuth(auth(List.of(), Duration.ofSeconds(1)));
      assertThatThrownBy(() -> new SmtpListener(s, spool, e -> {})).as(wide)
          .hasMessageContaining("open relay");
    }
    assertThatThrownBy(() -> new SmtpListener(base().withAuth(auth(nets("0.0.0.0/0"), Duration.ofSeconds(1))),
        spool, e -> {})).hasMessageContaining("too broad");
  }

  @Test
  void anEmptyNetworkListMeansEveryClientMustAuthenticate() throws Exception {
    start(base().withAllowedNetworks(List.of()).withAuth(auth(nets("127.0.0.0/8"), Duration.ofMillis(10))));
    try (SmtpDialog d = connect()) {
      assertThat(d.send("EHLO client.example").expect("250")).contains("250 AUTH PLAIN LOGIN");
      assertThat(d.send("MAIL FROM:<a@example.com>").expect("554"))
          .isEqualTo("554 5.7.1 Relay access denied: authenticate first");
      assertThat(d.send("RCPT TO:<b@example.com>").expect("503")).startsWith("503 5.5.1");
      d.send("AUTH PLAIN " + plain("scanner", PASSWORD)).expect("235 2.7.0");
      d.send("MAIL FROM:<a@example.com>").expect("250");
    }
    assertThat(mailLines()).contains("authenticated user=scanner client=127.0.0.1");
  }

  @Test
  void anIpv4MappedIpv6ClientMatchesItsIpv4Network() throws Exception {
    byte[] mapped = new byte[16];
    mapped[10] = (byte) 0xff;
    mapped[11] = (byte) 0xff;
    mapped[12] = 10;
    mapped[15] = 7;
    InetAddress client = java.net.Inet6Address.getByAddress(null, mapped, -1); // stays an Inet6Address
    Access a = new Access(base().withAllowedNetworks(nets("10.0.0.0/8")));
    assertThat(a.mayRelay(client)).isTrue();
    assertThat(a.mayRelay(InetAddress.getByName("11.0.0.7"))).isFalse();
    Access mappedNet = new Access(base().withAllowedNetworks(nets("::ffff:10.0.0.0/104")));
    assertThat(mappedNet.mayRelay(InetAddress.getByName("10.9.9.9"))).isTrue();
    assertThat(mappedNet.mayRelay(InetAddress.getByName("11.9.9.9"))).isFalse();
  }

  // --- TLS and AUTH

  @Test
  void authIsOfferedOnlyAfterStarttlsAndWorksThere() throws Exception {
    start(base().withAllowedNetworks(List.of()).withTls(tls(false, false))
        .withAuth(auth(List.of(), Duration.ofMillis(10))));
    try (SmtpDialog d = connect()) {
      String ehlo = d.send("EHLO client.example").expect("250");
      assertThat(ehlo).endsWith("250 STARTTLS").doesNotContain("AUTH");
      assertThat(d.send("AUTH PLAIN " + plain("scanner", PASSWORD)).expect("538"))
          .isEqualTo("538 5.7.11 Encryption required for requested authentication mechanism");
      assertThat(d.startTls(clientTls())).isIn("TLSv1.3", "TLSv1.2");
      ehlo = d.send("EHLO client.example").expect("250");
      assertThat(ehlo).contains("250 AUTH PLAIN LOGIN").doesNotContain("STARTTLS");
      assertThat(d.send("STARTTLS").expect("503")).isEqualTo("503 5.5.1 TLS already active");
      d.send("AUTH LOGIN").expect("334");
      d.send(Base64.getEncoder().encodeToString("scanner".getBytes(UTF_8))).expect("334");
      d.send(Base64.getEncoder().encodeToString(PASSWORD.getBytes(UTF_8))).expect("235");
      d.send("MAIL FROM:<scans@example.com>").expect("250");
    }
  }

  @Test
  void plainAuthWithoutTlsOnlyFromTheListedLegacyNetwork() throws Exception {
    start(base().withAllowedNetworks(List.of()).withTls(tls(false, false))
        .withAuth(auth(nets("127.0.0.1"), Duration.ofMillis(10))));
    try (SmtpDialog d = connect()) {
      assertThat(d.send("EHLO client.example").expect("250")).contains("250-STARTTLS\n250 AUTH PLAIN LOGIN");
      d.send("AUTH PLAIN " + plain("scanner", PASSWORD)).expect("235");
    }
  }

  @Test
  void tlsRequiredRefusesMailBeforeStarttls() throws Exception {
    start(base().withTls(tls(true, false)));
    try (SmtpDialog d = connect()) {
      d.send("EHLO client.example").expect("250");
      assertThat(d.send("MAIL FROM:<a@example.com>").expect("530")).isEqualTo("530 5.7.0 Must issue a STARTTLS command first");
      d.send("NOOP").expect("250");
      d.startTls(clientTls());
      d.send("EHLO client.example").expect("250");
      d.send("MAIL FROM:<a@example.com>").expect("250");
    }
  }

  @Test
  void implicitTlsListenerSpeaksTlsFromTheFirstByte() throws Exception {
    start(base().withAllowedNetworks(List.of()).withTls(tls(true, true))
        .withAuth(auth(List.of(), Duration.ofMillis(10))));
    assertThat(listener.implicitTlsPort()).isPositive().isNotEqualTo(listener.port());
    SSLSocket s = (SSLSocket) clientTls().createSocket("127.0.0.1", listener.implicitTlsPort());
    try (SmtpDialog d = new SmtpDialog(s)) {
      d.expect("220 relay.test");
      assertThat(s.getSession().getProtocol()).isIn("TLSv1.3", "TLSv1.2");
      String ehlo = d.send("EHLO client.example").expect("250");
      assertThat(ehlo).contains("250 AUTH PLAIN LOGIN").doesNotContain("STARTTLS");
      d.send("AUTH PLAIN " + plain("scanner", PASSWORD)).expect("235");
      d.send("MAIL FROM:<a@example.com>").expect("250");
      d.send("RCPT TO:<b@example.com>").expect("250");
      d.send("DATA").expect("354");
      d.raw("Subject: 465\r\n\r\nx\r\n.\r\n".getBytes(ISO_8859_1)).expect("250");
    }
    assertThat(queued).hasSize(1);
  }

  @Test
  void onlyTls12AndNewerAreEnabled() throws Exception {
    TlsLayer layer = TlsLayer.fromPem(tls(false, false));
    try (java.net.ServerSocket ss = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress());
         java.net.Socket c = new java.net.Socket(InetAddress.getLoopbackAddress(), ss.getLocalPort());
         java.net.Socket accepted = ss.accept()) {
      assertThat(layer.layer(accepted).getEnabledProtocols()).containsExactlyInAnyOrder("TLSv1.3", "TLSv1.2");
    }
  }

  @Test
  void failedLoginsFromOneAddressAreSlowedDownMoreEachTime() throws Exception {
    start(base().withAllowedNetworks(List.of()).withAuth(auth(nets("127.0.0.0/8"), Duration.ofMillis(200))));
    long[] took = new long[3];
    for (int i = 0; i < 3; i++) {
      try (SmtpDialog d = connect()) { // a new connection each time: hanging up does not reset the delay
        d.send("EHLO client.example").expect("250");
        long t0 = System.nanoTime();
        assertThat(d.send("AUTH PLAIN " + plain("scanner", "wrong" + i)).expect("535")).startsWith("535 5.7.8");
        took[i] = (System.nanoTime() - t0) / 1_000_000;
      }
    }
    assertThat(took[1]).as("second attempt waits the base delay").isGreaterThanOrEqualTo(200);
    assertThat(took[2]).as("third waits twice as long").isGreaterThanOrEqualTo(400);
    assertThat(mailLines()).contains("auth-failed user=scanner client=127.0.0.1 next-delay=800ms");
    try (SmtpDialog d = connect()) {
      d.send("EHLO client.example").expect("250");
      d.send("AUTH PLAIN " + plain("nobody", PASSWORD)).expect("535"); // unknown user: same reply
    }
  }

  // --- sender rules

  @Test
  void senderRulesPerNetworkAndPerUserNameThePolicy() throws Exception {
    Settings.Senders rules = new Settings.Senders(Map.of("scanner", List.of("scans@example.com")),
        Map.of(Cidr.parse("127.0.0.0/8"), List.of("@example.com", "<>"), Cidr.parse("127.0.0.1"),
            List.of("@example.com", "printer@example.org")));
    start(base().withSenders(rules).withAuth(auth(nets("127.0.0.0/8"), Duration.ofMillis(10))));
    try (SmtpDialog d = connect()) {
      d.send("EHLO client.example").expect("250");
      assertThat(d.send("MAIL FROM:<boss@other.org>").expect("550"))
          .isEqualTo("550 5.7.1 Sender not allowed for this client (smtp.allowed-senders 127.0.0.1/32)");
      d.send("MAIL FROM:<Anyone@EXAMPLE.com>").expect("250");
      d.send("RSET").expect("250");
      d.send("MAIL FROM:<printer@example.org>").expect("250");
      d.send("RSET").expect("250");
      // the most specific network entry applies: /32 does not list <>
      assertThat(d.send("MAIL FROM:<>").expect("550")).contains("127.0.0.1/32");
      d.send("AUTH PLAIN " + plain("scanner", PASSWORD)).expect("235");
      assertThat(d.send("MAIL FROM:<anyone@example.com>").expect("550"))
          .isEqualTo("550 5.7.1 Sender not allowed for this client (smtp.allowed-senders user:scanner)");
      d.send("MAIL FROM:<scans@example.com>").expect("250");
    }
    assertThat(mailLines()).anyMatch(l -> l.startsWith("refused client=127.0.0.1 user=- from=boss@other.org"));
  }

  // --- limits

  @Test
  void tooManyErrorsEndTheConnectionWith421() throws Exception {
    start(base().withLimits(Duration.ofMinutes(1), 5, 3, 1000, BareLf.NORMALIZE));
    try (SmtpDialog d = connect()) {
      d.send("EHLO client.example").expect("250");
      d.send("FOO").expect("500");
      d.send("MAIL FROM:<bad").expect("501");
      d.send("RCPT TO:<x@example.com>").expect("503");
      assertThat(d.expect("421")).isEqualTo("421 4.7.0 Too many errors, closing connection");
      assertThat(d.closedByServer()).isTrue();
    }
  }

  @Test
  void longCommandLinesAreRefused() throws Exception {
    start(base().withLimits(Duration.ofMinutes(1), 5, 10, 512, BareLf.NORMALIZE));
    try (SmtpDialog d = connect()) {
      d.send("EHLO client.example").expect("250");
      String local = "a".repeat(60);
      String params = " ENVID=" + "x".repeat(480);
      assertThat(d.send("MAIL FROM:<" + local + "@example.com>" + params).expect("500"))
          .isEqualTo("500 5.5.2 Line too long (at most 512 octets)");
      d.send("MAIL FROM:<" + local + "@example.com>").expect("250");
    }
  }

  @Test
  void connectionsPerClientAddressAreCapped() throws Exception {
    start(base().withLimits(Duration.ofMinutes(1), 2, 10, 1000, BareLf.NORMALIZE));
    try (SmtpDialog a = connect(); SmtpDialog b = connect(); SmtpDialog c = new SmtpDialog(listener.port())) {
      assertThat(c.expect("421")).isEqualTo("421 4.7.0 Too many connections from your address, try again later");
      a.send("NOOP").expect("250");
    }
    // the slots are given back when the sessions end
    await().atMost(5, TimeUnit.SECONDS).untilAsserted(() -> {
      try (SmtpDialog a = connect(); SmtpDialog b = connect()) {
        b.send("NOOP").expect("250");
      }
    });
  }

  @Test
  void idleAndOverlongConnectionsAreClosed() throws Exception {
    start(new Settings.Smtp("127.0.0.1", 0, "relay.test", 1_000_000, 5, 10, Duration.ofMillis(300)));
    try (SmtpDialog d = connect()) {
      assertThat(d.expect("421")).isEqualTo("421 4.4.2 Timeout waiting for data from client.");
      assertThat(d.closedByServer()).isTrue();
    }
    listener.close();
    // per connection: busy clients get 30 s per command but only 700 ms in all
    start(base().withLimits(Duration.ofMillis(700), 5, 10, 1000, BareLf.NORMALIZE));
    long t0 = System.nanoTime();
    try (SmtpDialog d = connect()) {
      d.send("EHLO client.example").expect("250");
      assertThat(d.expect("421")).startsWith("421 4.4.2");
      assertThat(d.closedByServer()).isTrue();
    }
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
  }

  @Test
  void commandsSentBeforeTheReplyCloseTheConnection() throws Exception {
    start(base());
    try (SmtpDialog d = connect()) {
      d.send("EHLO client.example").expect("250");
      d.raw("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n".getBytes(ISO_8859_1));
      assertThat(d.expect("554")).startsWith("554 5.5.0 Error: SMTP protocol synchronization");
      assertThat(d.closedByServer()).isTrue();
    }
    try (SmtpDialog d = connect()) {
      // one message, then a second transaction in the same packet: the first is queued, the second never runs
      d.send("EHLO client.example").expect("250");
      d.begin("a@example.com", "b@example.com");
      d.raw(("Subject: one\r\n\r\nx\r\n.\r\nMAIL FROM:<smuggled@example.com>\r\nRCPT TO:<victim@example.com>\r\n"
          + "DATA\r\nSubject: two\r\n\r\ny\r\n.\r\n").getBytes(ISO_8859_1));
      d.expect("250 2.0.0 Ok: queued as");
      assertThat(d.expect("554")).startsWith("554 5.5.0");
      assertThat(d.closedByServer()).isTrue();
    }
    assertThat(queued).hasSize(1);
    try (SmtpDialog d = connect()) { // QUIT right after the dot is tolerated
      d.send("EHLO client.example").expect("250");
      d.begin("a@example.com", "b@example.com");
      d.raw("Subject: q\r\n\r\nx\r\n.\r\nQUIT\r\n".getBytes(ISO_8859_1));
      d.expect("250");
      d.expect("221");
    }
    assertThat(queued).hasSize(2);
  }
}
