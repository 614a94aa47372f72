package io.relay365.config;

import static org.assertj.core.api.Assertions.assertThat;

import io.relay365.config.Settings.BareLf;
import io.relay365.config.Settings.Smtp;
import io.relay365.tls.CertificateAuthority;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** smtp.* front-door settings: defaults, parsing, and refusal of the configurations that would open the relay. */
class SmtpGuardsTest {
  @TempDir Path dir;

  private Smtp load(Map<String, String> changes) throws Exception {
    Map<String, String> keys = new LinkedHashMap<>(TestConfigs.base(dir));
    keys.putAll(changes);
    return SettingsLoader.load(TestConfigs.write(dir, keys), Map.of("HOSTNAME", "relay.example.com")).smtp();
  }

  private ConfigException failure(Map<String, String> changes) throws Exception {
    Map<String, String> keys = new LinkedHashMap<>(TestConfigs.base(dir));
    keys.putAll(changes);
    return TestConfigs.failure(TestConfigs.write(dir, keys), Map.of());
  }

  private static String pemText;

  @org.junit.jupiter.api.BeforeAll
  static void certificate() throws Exception {
    CertificateAuthority ca = CertificateAuthority.generate("t", Duration.ofDays(1));
    CertificateAuthority.Issued c = ca.issueServer(List.of("relay.example.com"), List.of(), Duration.ofDays(1));
    pemText = c.certificatePem() + c.keyPem();
  }

  private Path pem() throws Exception {
    Path p = dir.resolve("smtp.pem");
    Files.writeString(p, pemText);
    return p;
  }

  private Path users() throws Exception {
    Path u = dir.resolve("users");
    Files.writeString(u, "# none yet\n");
    return u;
  }

  @Test
  void defaultsAreLoopbackOnlyNoTlsNoAuthAndDocumentedLimits() throws Exception {
    Smtp s = load(Map.of());
    assertThat(s.allowedNetworks()).extracting(Cidr::toString).containsExactly("127.0.0.0/8", "0:0:0:0:0:0:0:1/128");
    assertThat(s.tls()).isNull();
    assertThat(s.auth()).isNull();
    assertThat(s.senders()).isEqualTo(Settings.Senders.NONE);
    assertThat(s.sessionTimeout()).isEqualTo(Duration.ofMinutes(30));
    assertThat(s.maxConnectionsPerClient()).isEqualTo(10);
    assertThat(s.maxErrors()).isEqualTo(10);
    assertThat(s.maxLineLength()).isEqualTo(1000);
    assertThat(s.bareLf()).isEqualTo(BareLf.NORMALIZE);
    assertThat(s).isEqualTo(new Smtp(s.listenHost(), s.listenPort(), s.hostname(), s.maxMessageSize(),
        s.maxRecipients(), s.maxConnections(), s.timeout())); // the 7-argument constructor has the same defaults
  }

  @Test
  void everySettingIsRead() throws Exception {
    Path cert = pem();
    Path users = users();
    Map<String, String> c = new HashMap<>();
    c.put("smtp.session-timeout", "10m");
    c.put("smtp.max-connections-per-client", "3");
    c.put("smtp.max-errors", "4");
    c.put("smtp.max-line-length", "600");
    c.put("smtp.bare-lf", "reject");
    c.put("smtp.allowed-networks", "[10.1.0.0/16, \"fd00::/8\", 192.0.2.7]");
    c.put("smtp.allowed-senders", "{\"user:scanner\": \"Scans@Example.com\", \"10.1.0.0/16\": [\"@bücher.example\", \"<>\"]}");
    c.put("smtp.tls.cert-file", cert.toString());
    c.put("smtp.tls.implicit-listen", "127.0.0.1:0");
    c.put("smtp.tls.required", "true");
    c.put("smtp.auth.users-file", users.toString());
    c.put("smtp.auth.without-tls-networks", "[192.0.2.0/28]");
    c.put("smtp.auth.failure-delay", "250ms");
    Smtp s = load(c);
    assertThat(s.sessionTimeout()).isEqualTo(Duration.ofMinutes(10));
    assertThat(List.of(s.maxConnectionsPerClient(), s.maxErrors(), s.maxLineLength())).containsExactly(3, 4, 600);
    assertThat(s.bareLf()).isEqualTo(BareLf.REJECT);
    assertThat(s.allowedNetworks()).extracting(Cidr::toString)
        .containsExactly("10.1.0.0/16", "fd00:0:0:0:0:0:0:0/8", "192.0.2.7/32");
    assertThat(s.senders().byUser()).containsEntry("scanner", List.of("scans@example.com"));
    assertThat(s.senders().byNetwork()).containsEntry(Cidr.parse("10.1.0.0/16"), List.of("@xn--bcher-kva.example", "<>"));
    assertThat(s.tls()).isEqualTo(new Settings.Tls(cert, cert, "127.0.0.1", 0, true));
    assertThat(s.auth()).isEqualTo(new Settings.Auth(users, List.of(Cidr.parse("192.0.2.0/28")), Duration.ofMillis(250)));
  }

  @Test
  void listsAndSenderRulesFromTheEnvironment() throws Exception {
    Map<String, String> env = new HashMap<>(Map.of("HOSTNAME", "relay.example.com",
        "RELAY365_SMTP_ALLOWED_NETWORKS", "10.1.0.0/16, 192.0.2.7",
        "RELAY365_SMTP_ALLOWED_SENDERS", "user:scanner=scans@example.com;10.1.0.0/16=@example.com <>"));
    Smtp s = SettingsLoader.load(TestConfigs.write(dir, TestConfigs.base(dir)), env).smtp();
    assertThat(s.allowedNetworks()).extracting(Cidr::toString).containsExactly("10.1.0.0/16", "192.0.2.7/32");
    assertThat(s.senders().byNetwork()).containsEntry(Cidr.parse("10.1.0.0/16"), List.of("@example.com", "<>"));
    assertThat(s.senders().byUser()).containsEntry("scanner", List.of("scans@example.com"));
  }

  /** The plausible mistakes: each one is refused with the fix, never run as an open relay. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "everyone IPv4            | smtp.allowed-networks | [0.0.0.0/0]          | smtp.allowed-networks | open relay",
      "everyone IPv6            | smtp.allowed-networks | [\"::/0\"]           | smtp.allowed-networks | open relay",
      "everyone as mapped IPv6  | smtp.allowed-networks | [\"::ffff:0:0/96\"]  | smtp.allowed-networks | open relay",
      "half the Internet        | smtp.allowed-networks | [0.0.0.0/1]          | smtp.allowed-networks | open relay",
      "host bits set            | smtp.allowed-networks | [10.1.2.3/8]         | smtp.allowed-networks | write the network 10.0.0.0/8",
      "host name                | smtp.allowed-networks | [printer.local]      | smtp.allowed-networks | host names are not accepted",
      "empty and no AUTH        | smtp.allowed-networks | []                   | smtp.allowed-networks | no client could send",
      "bad bare-lf              | smtp.bare-lf          | strip                | smtp.bare-lf          | normalize",
      "line length too long     | smtp.max-line-length  | 5000                 | smtp.max-line-length  | 512..1000",
      "more per client than all | smtp.max-connections-per-client | 100    | smtp.max-connections-per-client | at most smtp.max-connections",
      "required without cert    | smtp.tls.required     | true                 | smtp.tls.required     | smtp.tls.cert-file",
      "465 without cert         | smtp.tls.implicit-listen | 0.0.0.0:465       | smtp.tls.implicit-listen | needs a certificate",
      "cert file missing        | smtp.tls.cert-file    | /nonexistent/c.pem   | smtp.tls.cert-file    | cannot be read",
      "users file missing       | smtp.auth.users-file  | /nonexistent/users   | smtp.auth.users-file  | relay365 passwd --file",
      "clear AUTH from anywhere | smtp.auth.without-tls-networks | [0.0.0.0/0] | smtp.auth.without-tls-networks | has no effect",
      "sender not an address    | smtp.allowed-senders  | {\"10.0.0.0/8\": nobody} | smtp.allowed-senders | neither an address",
      "sender key not a network | smtp.allowed-senders  | {scanner: a@example.com} | smtp.allowed-senders | neither user:NAME nor a network",
  })
  void mistakesAreRefused(String name, String key, String value, String expectedKey, String fragment) throws Exception {
    ConfigException e = failure(Map.of(key.strip(), value.strip()));
    assertThat(e.key()).isEqualTo(expectedKey.strip());
    assertThat(e.getMessage()).contains(fragment.strip());
  }

  @Test
  void authRulesThatWouldSendPasswordsInClearOrNeverWorkAreRefused() throws Exception {
    Path users = users();
    // AUTH configured but impossible: no TLS and no legacy network
    assertThat(failure(Map.of("smtp.auth.users-file", users.toString())).getMessage())
        .contains("AUTH is offered only after STARTTLS");
    // clear-text AUTH for everyone
    assertThat(failure(Map.of("smtp.auth.users-file", users.toString(),
        "smtp.auth.without-tls-networks", "[0.0.0.0/0]")).getMessage()).contains("in clear");
    // 0.0.0.0/0 "because AUTH is required anyway" is still an open relay: refused
    assertThat(failure(Map.of("smtp.auth.users-file", users.toString(), "smtp.tls.cert-file", pem().toString(),
        "smtp.allowed-networks", "[0.0.0.0/0]")).getMessage()).contains("open relay");
    // an empty list with AUTH: allowed, every client must authenticate
    Smtp s = load(Map.of("smtp.auth.users-file", users.toString(), "smtp.tls.cert-file", pem().toString(),
        "smtp.allowed-networks", "[]"));
    assertThat(s.allowedNetworks()).isEmpty();
  }

  @Test
  void cidrMatchesIpv4MappedIpv6BothWays() throws Exception {
    byte[] mapped = new byte[16];
    mapped[10] = (byte) 0xff;
    mapped[11] = (byte) 0xff;
    mapped[12] = (byte) 192;
    mapped[13] = 0;
    mapped[14] = 2;
    mapped[15] = 9;
    InetAddress v6 = java.net.Inet6Address.getByAddress(null, mapped, -1);
    assertThat(Cidr.parse("192.0.2.0/24").contains(v6)).isTrue();
    assertThat(Cidr.parse("::ffff:192.0.2.0/120").toString()).isEqualTo("192.0.2.0/24");
    assertThat(Cidr.parse("::ffff:192.0.2.0/120").contains(InetAddress.getByName("192.0.2.200"))).isTrue();
    assertThat(Cidr.parse("::ffff:0:0/96").isTooBroad()).isTrue();
    assertThat(Cidr.parse("fc00::/7").isTooBroad()).isFalse();
    assertThat(Cidr.parse("192.0.2.0/24").contains(InetAddress.getByName("2001:db8::1"))).isFalse();
  }

  @Test
  void describeListsTheNewSettings() throws Exception {
    Map<String, String> env = Map.of("HOSTNAME", "relay.example.com");
    String d = SettingsLoader.describe(SettingsLoader.load(TestConfigs.write(dir, TestConfigs.base(dir)), env));
    assertThat(d).contains("smtp.allowed-networks = 127.0.0.0/8, 0:0:0:0:0:0:0:1/128", "smtp.bare-lf = normalize",
        "smtp.tls.cert-file = (not set)", "smtp.auth.users-file = (not set)", "smtp.max-errors = 10");
  }
}
