package io.relay365.tls;

import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;

/**
 * Reading and writing PEM certificates and keys through BouncyCastle, which understands the
 * formats admins actually have (PKCS#1 "RSA PRIVATE KEY", PKCS#8, EC keys, bundles) where the
 * JDK alone understands none of them.
 */
public final class Pem {
  private Pem() {}

  /** Every certificate in a PEM file (a CA bundle may hold many). */
  public static List<X509Certificate> readCertificates(Path file) throws IOException {
    List<X509Certificate> certs = new ArrayList<>();
    try (Reader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII);
        PEMParser parser = new PEMParser(r)) {
      Object o;
      while ((o = parser.readObject()) != null) {
        if (o instanceof X509CertificateHolder h) {
          certs.add(new JcaX509CertificateConverter().getCertificate(h));
        }
      }
    } catch (CertificateException e) {
      throw new IOException(file + ": not a valid certificate: " + e.getMessage(), e);
    }
    return certs;
  }

  /** The first private key in a PEM file (PKCS#1, PKCS#8 or EC), or null if there is none. */
  public static PrivateKey readPrivateKey(Path file) throws IOException {
    try (Reader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII);
        PEMParser parser = new PEMParser(r)) {
      JcaPEMKeyConverter conv = new JcaPEMKeyConverter();
      Object o;
      while ((o = parser.readObject()) != null) {
        if (o instanceof PEMKeyPair kp) {
          return conv.getKeyPair(kp).getPrivate();
        }
        if (o instanceof PrivateKeyInfo pki) {
          return conv.getPrivateKey(pki);
        }
      }
      return null;
    }
  }

  public static String write(Object... objects) {
    StringWriter sw = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(sw)) {
      for (Object o : objects) {
        w.writeObject(o instanceof KeyPair kp ? kp.getPrivate() : o);
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return sw.toString();
  }

  static GeneralSecurityException wrap(Exception e) {
    return new GeneralSecurityException(e.getMessage(), e);
  }
}
