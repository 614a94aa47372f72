package io.relay365.tls;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
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
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A throw-away certificate authority, generated in memory, for the sandbox (and tests): it signs a
 * server certificate for localhost/127.0.0.1/::1 and client certificates for certificate credentials.
 * The relay trusts it only through microsoft.ca-file, like any private CA, so the real TLS checks run.
 */
public final class CertificateAuthority {
  private static final SecureRandom RANDOM = new SecureRandom();

  private final KeyPair keys;
  private final X509Certificate certificate;

  private CertificateAuthority(KeyPair keys, X509Certificate certificate) {
    this.keys = keys;
    this.certificate = certificate;
  }

  /** A new CA valid from an hour ago for {@code validity}. */
  public static CertificateAuthority generate(String name, Duration validity) throws GeneralSecurityException {
    KeyPair kp = rsa();
    X500Name subject = new X500Name("CN=" + name);
    Instant now = Instant.now();
    try {
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject, serial(),
          Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(validity)), subject, kp.getPublic())
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
          .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
          .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(kp.getPublic()));
      return new CertificateAuthority(kp, sign(b, kp));
    } catch (IOException e) {
      throw Pem.wrap(e);
    }
  }

  public X509Certificate certificate() {
    return certificate;
  }

  /** A TLS server certificate for the given DNS names and IP addresses, signed by this CA. */
  public Issued issueServer(List<String> dnsNames, List<String> ips, Duration validity)
      throws GeneralSecurityException {
    GeneralName[] names = new GeneralName[dnsNames.size() + ips.size()];
    int i = 0;
    for (String d : dnsNames) {
      names[i++] = new GeneralName(GeneralName.dNSName, d);
    }
    for (String ip : ips) {
      names[i++] = new GeneralName(GeneralName.iPAddress, ip);
    }
    return issue("CN=" + (dnsNames.isEmpty() ? ips.get(0) : dnsNames.get(0)), validity,
        KeyPurposeId.id_kp_serverAuth, new GeneralNames(names), Instant.now().minus(Duration.ofHours(1)));
  }

  /** A client certificate (e.g. for an Entra ID certificate credential), valid from {@code notBefore}. */
  public Issued issueClient(String commonName, Instant notBefore, Duration validity) throws GeneralSecurityException {
    return issue("CN=" + commonName, validity, KeyPurposeId.id_kp_clientAuth, null, notBefore);
  }

  private Issued issue(String dn, Duration validity, KeyPurposeId purpose, GeneralNames sans, Instant notBefore)
      throws GeneralSecurityException {
    KeyPair kp = rsa();
    try {
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(certificate, serial(),
          Date.from(notBefore), Date.from(notBefore.plus(validity)), new X500Name(dn), kp.getPublic())
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
          .addExtension(Extension.keyUsage, true,
              new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment))
          .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(purpose))
          .addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(certificate))
          .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(kp.getPublic()));
      if (sans != null) {
        b.addExtension(Extension.subjectAlternativeName, false, sans);
      }
      return new Issued(kp, sign(b, keys), certificate);
    } catch (IOException e) {
      throw Pem.wrap(e);
    }
  }

  /** Writes the CA certificate as PEM (what microsoft.ca-file points at). */
  public void writeCertificate(Path file) throws IOException {
    Files.writeString(file, Pem.write(certificate), StandardCharsets.US_ASCII);
  }

  /** A certificate and its key, signed by this CA. */
  public record Issued(KeyPair keys, X509Certificate certificate, X509Certificate issuer) {

    /** PEM with the certificate chain (leaf first). */
    public String certificatePem() {
      return Pem.write(certificate, issuer);
    }

    /** PEM with the PKCS#8 private key. */
    public String keyPem() {
      return Pem.write(keys.getPrivate());
    }

    /** A PKCS#12 key store with the key and chain under alias "1". */
    public KeyStore pkcs12(char[] password) throws GeneralSecurityException, IOException {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      ks.setKeyEntry("1", keys.getPrivate(), password, new java.security.cert.Certificate[] {certificate, issuer});
      return ks;
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

  private static X509Certificate sign(X509v3CertificateBuilder b, KeyPair signer) throws GeneralSecurityException {
    try {
      return new JcaX509CertificateConverter().getCertificate(
          b.build(new JcaContentSignerBuilder("SHA256withRSA").build(signer.getPrivate())));
    } catch (OperatorCreationException e) {
      throw Pem.wrap(e);
    }
  }
}
