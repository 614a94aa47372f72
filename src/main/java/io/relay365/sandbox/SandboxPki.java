package io.relay365.sandbox;

import io.relay365.tls.Pem;
import java.io.IOException;
import java.io.OutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.spec.RSAPublicKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The sandbox's keys and certificates, kept in dataDir so that a restarted sandbox is "the same service":
 * the relay's microsoft.ca-file stays valid, the registered client certificate stays registered, and
 * access tokens issued before a restart still verify. (io.relay365.tls.CertificateAuthority cannot be
 * reloaded from disk, hence this small issuer of our own.) Private keys are written with mode 0600.
 */
final class SandboxPki {
  private static final SecureRandom RANDOM = new SecureRandom();

  final KeyPair caKeys;
  final X509Certificate caCert;
  final Path caFile;
  final String serverCertPem;
  final String serverKeyPem;
  final X509Certificate clientCert;
  final Path clientCertPem;
  final Path clientKeyPem;
  final Path clientPkcs12;
  final String clientPkcs12Password;
  final KeyPair tokenKeys;

  private SandboxPki(KeyPair caKeys, X509Certificate caCert, Path caFile, String serverCertPem, String serverKeyPem,
      X509Certificate clientCert, Path clientCertPem, Path clientKeyPem, Path clientPkcs12, String p12Password,
      KeyPair tokenKeys) {
    this.caKeys = caKeys;
    this.caCert = caCert;
    this.caFile = caFile;
    this.serverCertPem = serverCertPem;
    this.serverKeyPem = serverKeyPem;
    this.clientCert = clientCert;
    this.clientCertPem = clientCertPem;
    this.clientKeyPem = clientKeyPem;
    this.clientPkcs12 = clientPkcs12;
    this.clientPkcs12Password = p12Password;
    this.tokenKeys = tokenKeys;
  }

  /** Loads what exists in {@code dir}, generates what is missing; a fresh server certificate every time. */
  static SandboxPki loadOrCreate(Path dir, String bindHost) throws IOException, GeneralSecurityException {
    Files.createDirectories(dir);
    Path caFile = dir.resolve("ca.pem");
    Path caKeyFile = dir.resolve("ca-key.pem");
    KeyPair ca;
    X509Certificate caCert;
    if (Files.exists(caFile) && Files.exists(caKeyFile)) {
      caCert = Pem.readCertificates(caFile).get(0);
      ca = new KeyPair(caCert.getPublicKey(), Pem.readPrivateKey(caKeyFile));
    } else {
      ca = rsa();
      X500Name subject = new X500Name("CN=relay365 sandbox CA " + Long.toHexString(RANDOM.nextLong()));
      Instant now = Instant.now();
      JcaX509ExtensionUtils ext = ext();
      X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject, serial(),
          Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofDays(3650))), subject,
          ca.getPublic())
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
          .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
          .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(ca.getPublic()));
      caCert = sign(b, ca.getPrivate());
      writePrivate(caKeyFile, Pem.write(ca.getPrivate()));
      Files.writeString(caFile, Pem.write(caCert), StandardCharsets.US_ASCII);
    }

    // Server certificate: SANs localhost, 127.0.0.1, ::1 (+ the bind host) so hostname verification passes
    // whichever loopback name the client uses.
    KeyPair serverKeys = rsa();
    List<GeneralName> sans = new java.util.ArrayList<>(List.of(
        new GeneralName(GeneralName.dNSName, "localhost"),
        new GeneralName(GeneralName.iPAddress, "127.0.0.1"),
        new GeneralName(GeneralName.iPAddress, "::1")));
    String h = bindHost.replace("[", "").replace("]", "");
    if (!h.equals("localhost") && !h.equals("127.0.0.1") && !h.equals("::1") && !h.equals("0.0.0.0")
        && !h.equals("::")) {
      sans.add(new GeneralName(isIp(h) ? GeneralName.iPAddress : GeneralName.dNSName, h));
    }
    X509Certificate serverCert = issue(ca, caCert, "CN=localhost", serverKeys, KeyPurposeId.id_kp_serverAuth,
        new GeneralNames(sans.toArray(new GeneralName[0])), Instant.now().minus(Duration.ofHours(1)),
        Duration.ofDays(825));
    String serverCertPem = Pem.write(serverCert, caCert);
    String serverKeyPem = Pem.write(serverKeys.getPrivate());

    // The registered client certificate credential (what an admin uploads to the app registration).
    Path clientCertPem = dir.resolve("client-cert.pem");
    Path clientKeyPem = dir.resolve("client-key.pem");
    Path clientP12 = dir.resolve("client.p12");
    Path clientP12Pass = dir.resolve("client.p12.password");
    X509Certificate clientCert;
    String p12Password;
    if (Files.exists(clientCertPem) && Files.exists(clientKeyPem) && Files.exists(clientP12)
        && Files.exists(clientP12Pass)) {
      clientCert = Pem.readCertificates(clientCertPem).get(0);
      p12Password = Files.readString(clientP12Pass, StandardCharsets.UTF_8).trim();
    } else {
      KeyPair ck = rsa();
      clientCert = issue(ca, caCert, "CN=relay365 sandbox client", ck, KeyPurposeId.id_kp_clientAuth, null,
          Instant.now().minus(Duration.ofHours(1)), Duration.ofDays(730));
      p12Password = Long.toHexString(RANDOM.nextLong()) + Long.toHexString(RANDOM.nextLong());
      Files.writeString(clientCertPem, Pem.write(clientCert, caCert), StandardCharsets.US_ASCII);
      writePrivate(clientKeyPem, Pem.write(ck.getPrivate()));
      writePrivate(clientP12Pass, p12Password + "\n");
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      ks.setKeyEntry("1", ck.getPrivate(), p12Password.toCharArray(), new Certificate[] {clientCert, caCert});
      createPrivate(clientP12);
      try (OutputStream out = Files.newOutputStream(clientP12)) {
        ks.store(out, p12Password.toCharArray());
      }
    }

    // Key that signs the access tokens this sandbox issues (EWS verifies them with the public half).
    Path tokenKeyFile = dir.resolve("token-signing-key.pem");
    KeyPair tokenKeys;
    if (Files.exists(tokenKeyFile)) {
      PrivateKey pk = Pem.readPrivateKey(tokenKeyFile);
      tokenKeys = new KeyPair(publicOf(pk), pk);
    } else {
      tokenKeys = rsa();
      writePrivate(tokenKeyFile, Pem.write(tokenKeys.getPrivate()));
    }
    return new SandboxPki(ca, caCert, caFile, serverCertPem, serverKeyPem, clientCert, clientCertPem, clientKeyPem,
        clientP12, p12Password, tokenKeys);
  }

  /** SHA-256 thumbprint of the registered client certificate (what x5t#S256 must carry). */
  byte[] clientThumbprintSha256() throws GeneralSecurityException {
    return MessageDigest.getInstance("SHA-256").digest(clientCert.getEncoded());
  }

  byte[] clientThumbprintSha1() throws GeneralSecurityException {
    return MessageDigest.getInstance("SHA-1").digest(clientCert.getEncoded());
  }

  static void writePrivate(Path file, String content) throws IOException {
    createPrivate(file);
    Files.writeString(file, content, StandardCharsets.UTF_8);
  }

  private static void createPrivate(Path file) throws IOException {
    Files.deleteIfExists(file);
    try {
      Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    } catch (UnsupportedOperationException e) {
      Files.createFile(file); // non-POSIX file system (Windows): rely on the directory's ACL
    }
  }

  private static PublicKey publicOf(PrivateKey pk) throws GeneralSecurityException {
    if (!(pk instanceof RSAPrivateCrtKey crt)) {
      throw new GeneralSecurityException("token signing key must be an RSA key");
    }
    return KeyFactory.getInstance("RSA").generatePublic(new RSAPublicKeySpec(crt.getModulus(),
        crt.getPublicExponent()));
  }

  private static X509Certificate issue(KeyPair ca, X509Certificate caCert, String dn, KeyPair subjectKeys,
      KeyPurposeId purpose, GeneralNames sans, Instant notBefore, Duration validity)
      throws GeneralSecurityException, IOException {
    JcaX509ExtensionUtils ext = ext();
    X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(caCert, serial(), Date.from(notBefore),
        Date.from(notBefore.plus(validity)), new X500Name(dn), subjectKeys.getPublic())
        .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
        .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment))
        .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(purpose))
        .addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(caCert))
        .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(subjectKeys.getPublic()));
    if (sans != null) {
      b.addExtension(Extension.subjectAlternativeName, false, sans);
    }
    return sign(b, ca.getPrivate());
  }

  private static JcaX509ExtensionUtils ext() throws GeneralSecurityException {
    return new JcaX509ExtensionUtils();
  }

  private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey key) throws GeneralSecurityException {
    try {
      return new JcaX509CertificateConverter().getCertificate(
          b.build(new JcaContentSignerBuilder("SHA256withRSA").build(key)));
    } catch (org.bouncycastle.operator.OperatorCreationException e) {
      throw new GeneralSecurityException(e.getMessage(), e);
    }
  }

  private static KeyPair rsa() throws GeneralSecurityException {
    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
    g.initialize(2048, RANDOM);
    return g.generateKeyPair();
  }

  private static BigInteger serial() {
    return new BigInteger(64, RANDOM).abs().add(BigInteger.ONE);
  }

  static boolean isIp(String h) {
    return h.matches("[0-9.]+") || h.contains(":");
  }
}
