package io.relay365.config;

import static org.assertj.core.api.Assertions.assertThat;

import io.relay365.tls.CertificateAuthority;
import io.relay365.tls.CertificateAuthority.Issued;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Certificate credentials are opened at start-up, so that expiry or a wrong key is reported with the key to fix. */
class CertificateCredentialTest {
  static final String PASSWORD = "pfx-Passw0rd~secret";
  static CertificateAuthority ca;
  static Issued valid;
  static Issued expired;
  static Issued other;

  @TempDir Path dir;

  @BeforeAll
  static void issue() throws Exception {
    ca = CertificateAuthority.generate("relay365 test CA", Duration.ofDays(2));
    valid = ca.issueClient("relay365", Instant.now().minus(Duration.ofHours(1)), Duration.ofDays(1));
    expired = ca.issueClient("relay365-old", Instant.now().minus(Duration.ofDays(3)), Duration.ofDays(1));
    other = ca.issueClient("someone-else", Instant.now().minus(Duration.ofHours(1)), Duration.ofDays(1));
  }

  @Test
  void pemCertificateWithSeparateKeyFile() throws Exception {
    Path cert = write("relay.pem", valid.certificatePem());
    Path key = write("relay.key", valid.keyPem());

    Settings s = SettingsLoader.load(null, env(Map.of(
        "RELAY365_MICROSOFT_CERTIFICATE_FILE", cert.toString(),
        "RELAY365_MICROSOFT_CERTIFICATE_KEY_FILE", key.toString())));

    assertThat(s.microsoft().clientSecret()).isNull();
    assertThat(s.microsoft().certificate()).isEqualTo(new Settings.Certificate(cert, key, null));
  }

  @Test
  void pemCertificateAndKeyInOneFile() throws Exception {
    Path both = write("both.pem", valid.certificatePem() + valid.keyPem());

    Settings s = SettingsLoader.load(null, env(Map.of("RELAY365_MICROSOFT_CERTIFICATE_FILE", both.toString())));

    assertThat(s.microsoft().certificate().file()).isEqualTo(both);
    assertThat(s.microsoft().certificate().keyFile()).isNull();
  }

  @Test
  void pkcs12WithPasswordFile() throws Exception {
    Path pfx = pkcs12(valid, PASSWORD);
    Path pw = write("pfx-password", PASSWORD + "\n");

    Settings s = SettingsLoader.load(null, env(Map.of(
        "RELAY365_MICROSOFT_CERTIFICATE_FILE", pfx.toString(),
        "RELAY365_MICROSOFT_CERTIFICATE_PASSWORD_FILE", pw.toString())));

    assertThat(s.microsoft().certificate().password().reveal()).isEqualTo(PASSWORD);
    String described = SettingsLoader.describe(s);
    assertThat(described).contains("microsoft.certificate.password = ********").doesNotContain(PASSWORD)
        .contains("microsoft.certificate.file = " + pfx);
  }

  @Test
  void pkcs12WithWrongPasswordIsRefusedWithoutShowingIt() throws Exception {
    Path pfx = pkcs12(valid, PASSWORD);
    ConfigException e = TestConfigs.failure(null, env(Map.of(
        "RELAY365_MICROSOFT_CERTIFICATE_FILE", pfx.toString(),
        "RELAY365_MICROSOFT_CERTIFICATE_PASSWORD", "wrong-" + PASSWORD)));

    assertThat(e.key()).isEqualTo("microsoft.certificate.file");
    assertThat(e.getMessage()).contains("wrong password").doesNotContain(PASSWORD);
  }

  @Test
  void expiredCertificateSaysWhenAndWhatToDo() throws Exception {
    Path cert = write("old.pem", expired.certificatePem() + expired.keyPem());

    ConfigException e = TestConfigs.failure(null, env(Map.of("RELAY365_MICROSOFT_CERTIFICATE_FILE", cert.toString())));

    assertThat(e.key()).isEqualTo("microsoft.certificate.file");
    assertThat(e.getMessage()).contains("expired on").contains("Certificates & secrets");
  }

  @Test
  void keyOfAnotherCertificateIsRefused() throws Exception {
    Path cert = write("relay.pem", valid.certificatePem());
    Path key = write("other.key", other.keyPem());

    ConfigException e = TestConfigs.failure(null, env(Map.of(
        "RELAY365_MICROSOFT_CERTIFICATE_FILE", cert.toString(),
        "RELAY365_MICROSOFT_CERTIFICATE_KEY_FILE", key.toString())));

    assertThat(e.key()).isEqualTo("microsoft.certificate.key-file");
    assertThat(e.getMessage()).contains("does not belong to the certificate");
  }

  @Test
  void unparseableOrKeylessFilesAreExplained() throws Exception {
    Path garbage = write("garbage.pem", "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n");
    assertThat(TestConfigs.failure(null, env(Map.of("RELAY365_MICROSOFT_CERTIFICATE_FILE", garbage.toString())))
        .getMessage()).startsWith("microsoft.certificate.file: ").contains("cannot be parsed");

    Path certOnly = write("cert-only.pem", valid.certificatePem());
    ConfigException noKey = TestConfigs.failure(null, env(Map.of("RELAY365_MICROSOFT_CERTIFICATE_FILE",
        certOnly.toString())));
    assertThat(noKey.key()).isEqualTo("microsoft.certificate.key-file");
    assertThat(noKey.getMessage()).contains("no private key");

    ConfigException missing = TestConfigs.failure(null, env(Map.of("RELAY365_MICROSOFT_CERTIFICATE_KEY_FILE",
        certOnly.toString())));
    assertThat(missing.key()).isEqualTo("microsoft.certificate.file");
    assertThat(missing.getMessage()).contains("is missing");
  }

  @Test
  void caFileMustHoldAPemCertificate() throws Exception {
    Path ca1 = dir.resolve("ca.pem");
    ca.writeCertificate(ca1);
    Map<String, String> e = env(Map.of(
        "RELAY365_MICROSOFT_CERTIFICATE_FILE", write("both.pem", valid.certificatePem() + valid.keyPem()).toString(),
        "RELAY365_MICROSOFT_CA_FILE", ca1.toString()));
    assertThat(SettingsLoader.load(null, e).microsoft().caFile()).isEqualTo(ca1);

    e.put("RELAY365_MICROSOFT_CA_FILE", write("notes.txt", "hello\n").toString());
    assertThat(TestConfigs.failure(null, e).getMessage()).startsWith("microsoft.ca-file: ")
        .contains("holds no PEM certificate");
  }

  private Map<String, String> env(Map<String, String> extra) {
    Map<String, String> env = new HashMap<>();
    env.put("RELAY365_MICROSOFT_TENANT_ID", TestConfigs.TENANT);
    env.put("RELAY365_MICROSOFT_CLIENT_ID", TestConfigs.CLIENT);
    env.putAll(extra);
    return env;
  }

  private Path write(String name, String text) throws Exception {
    Path f = dir.resolve(name);
    Files.writeString(f, text, StandardCharsets.US_ASCII);
    return f;
  }

  private Path pkcs12(Issued issued, String password) throws Exception {
    Path f = dir.resolve("relay.pfx");
    try (OutputStream out = Files.newOutputStream(f)) {
      issued.pkcs12(password.toCharArray()).store(out, password.toCharArray());
    }
    return f;
  }
}
