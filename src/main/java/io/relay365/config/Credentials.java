package io.relay365.config;

import io.relay365.tls.Pem;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.interfaces.RSAPublicKey;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Collections;
import java.util.Date;
import java.util.List;

/**
 * Reads secret files and checks certificate credentials at start-up, so that a wrong path, an
 * expired certificate or a key that does not match is reported now, with the key to fix, rather
 * than as an AADSTS error on the first delivery. Never puts a secret into a message.
 */
final class Credentials {
  private Credentials() {}

  private static final String PORTAL =
      "Entra admin center → App registrations → your app → Certificates & secrets";

  /**
   * The contents of a secret file, without the trailing line break that editors and
   * `echo` add. systemd's LoadCredential= puts such files under $CREDENTIALS_DIRECTORY
   * (/run/credentials/relay365.service/ for the packaged unit).
   */
  static String readSecretFile(String key, Path file, boolean allowEmpty) {
    if (!Files.exists(file)) {
      throw new ConfigException(key, file + " does not exist; check the path, and with systemd check the unit's"
          + " LoadCredential= line (the file appears as $CREDENTIALS_DIRECTORY/<name>)");
    }
    if (!Files.isRegularFile(file)) {
      throw new ConfigException(key, file + " is not a regular file; point it at the file holding only the value");
    }
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (AccessDeniedException e) {
      throw new ConfigException(key, file + " cannot be read by user " + System.getProperty("user.name")
          + " (permission denied); make it readable by that user only (chmod 0400, chown), or use LoadCredential=");
    } catch (IOException e) {
      throw new ConfigException(key, file + " cannot be read (" + e.getClass().getSimpleName()
          + "); check the file and its permissions");
    }
    int end = text.length();
    while (end > 0 && (text.charAt(end - 1) == '\n' || text.charAt(end - 1) == '\r')) {
      end--;
    }
    String value = text.substring(0, end);
    if (value.isEmpty() && !allowEmpty) {
      throw new ConfigException(key, file + " is empty; put the secret's Value (not its Secret ID) from " + PORTAL
          + " into it");
    }
    if (value.indexOf('\n') >= 0 || value.indexOf('\r') >= 0) {
      throw new ConfigException(key, file + " holds more than one line; it must contain only the secret value");
    }
    return value;
  }

  /**
   * Opens the certificate credential the way the token client will: PKCS#12 (file + password)
   * or PEM (certificate in file, unencrypted private key in key-file or in file too).
   */
  static void checkCertificate(Settings.Certificate c, Instant now) {
    byte[] bytes = readAll("microsoft.certificate.file", c.file());
    boolean pem = new String(bytes, StandardCharsets.US_ASCII).contains("-----BEGIN");
    X509Certificate cert;
    PrivateKey key;
    if (pem) {
      if (c.password() != null) {
        throw new ConfigException("microsoft.certificate.password", "is only for PKCS#12 (.pfx/.p12) files; "
            + c.file() + " is PEM, whose key must be unencrypted: remove the password, or decrypt the key with"
            + " `openssl pkey -in key.pem -out plain-key.pem`");
      }
      cert = firstCertificate(c.file());
      Path keyPath = c.keyFile() != null ? c.keyFile() : c.file();
      String keyKey = c.keyFile() != null ? "microsoft.certificate.key-file" : "microsoft.certificate.file";
      byte[] keyBytes = c.keyFile() != null ? readAll(keyKey, keyPath) : bytes;
      if (new String(keyBytes, StandardCharsets.US_ASCII).contains("ENCRYPTED")) {
        throw new ConfigException(keyKey, keyPath + " holds an encrypted private key, which is not supported;"
            + " decrypt it with `openssl pkey -in key.pem -out plain-key.pem` and protect the file instead");
      }
      try {
        key = Pem.readPrivateKey(keyPath);
      } catch (IOException | RuntimeException e) {
        throw new ConfigException(keyKey, keyPath + " holds no readable PEM private key; point"
            + " microsoft.certificate.key-file at the certificate's private key");
      }
      if (key == null) {
        throw new ConfigException("microsoft.certificate.key-file", c.keyFile() == null
            ? "is missing: " + c.file() + " holds the certificate but no private key; set key-file to the PEM key"
            : c.keyFile() + " holds no PEM private key; point it at the certificate's private key");
      }
    } else {
      if (c.keyFile() != null) {
        throw new ConfigException("microsoft.certificate.key-file", "is only for PEM certificates; "
            + c.file() + " is PKCS#12, which holds the key itself: remove key-file");
      }
      char[] password = c.password() == null ? new char[0] : c.password().reveal().toCharArray();
      KeyStore ks;
      try {
        ks = KeyStore.getInstance("PKCS12");
        ks.load(new ByteArrayInputStream(bytes), password);
      } catch (IOException | GeneralSecurityException e) {
        throw new ConfigException("microsoft.certificate.file", c.file() + " cannot be opened as PKCS#12 (wrong"
            + " password, or neither a .pfx/.p12 nor a PEM file); check microsoft.certificate.password and the file");
      }
      String alias = null;
      Key k = null;
      try {
        for (String a : Collections.list(ks.aliases())) {
          if (ks.isKeyEntry(a)) {
            alias = a;
            k = ks.getKey(a, password);
            break;
          }
        }
      } catch (GeneralSecurityException e) {
        throw new ConfigException("microsoft.certificate.password", "does not open the private key in "
            + c.file() + "; check the password");
      }
      if (alias == null || !(k instanceof PrivateKey pk) || !(keyCertificate(ks, alias) instanceof X509Certificate x)) {
        throw new ConfigException("microsoft.certificate.file", c.file() + " holds no private key with a"
            + " certificate; export the certificate with its private key (.pfx)");
      }
      key = pk;
      cert = x;
    }
    checkValidity(cert, c.file(), now);
    checkKeyMatches(cert, key, c);
  }

  private static Object keyCertificate(KeyStore ks, String alias) {
    try {
      return ks.getCertificate(alias);
    } catch (GeneralSecurityException e) {
      return null;
    }
  }

  private static byte[] readAll(String key, Path file) {
    if (!Files.exists(file)) {
      throw new ConfigException(key, file + " does not exist; check the path, and with systemd check the unit's"
          + " LoadCredential= line");
    }
    try {
      return Files.readAllBytes(file);
    } catch (AccessDeniedException e) {
      throw new ConfigException(key, file + " cannot be read by user " + System.getProperty("user.name")
          + " (permission denied); fix its owner or mode");
    } catch (IOException e) {
      throw new ConfigException(key, file + " cannot be read (" + e.getClass().getSimpleName() + ")");
    }
  }

  private static X509Certificate firstCertificate(Path file) {
    List<X509Certificate> certs;
    try {
      certs = Pem.readCertificates(file);
    } catch (IOException | RuntimeException e) {
      throw new ConfigException("microsoft.certificate.file", file + " cannot be parsed as a PEM certificate;"
          + " export the certificate as PEM (-----BEGIN CERTIFICATE-----) or PKCS#12");
    }
    if (certs.isEmpty()) {
      throw new ConfigException("microsoft.certificate.file", file + " holds no PEM certificate; it must start"
          + " with -----BEGIN CERTIFICATE----- (the key goes in key-file)");
    }
    return certs.get(0);
  }

  private static void checkValidity(X509Certificate cert, Path file, Instant now) {
    String who = cert.getSubjectX500Principal().getName();
    try {
      cert.checkValidity(Date.from(now));
    } catch (CertificateExpiredException e) {
      throw new ConfigException("microsoft.certificate.file", file + ": the certificate " + who + " expired on "
          + cert.getNotAfter().toInstant().atOffset(ZoneOffset.UTC).toLocalDate() + "; create a new one, upload it in "
          + PORTAL + " and point this setting at it");
    } catch (CertificateNotYetValidException e) {
      throw new ConfigException("microsoft.certificate.file", file + ": the certificate " + who
          + " is not valid before " + cert.getNotBefore().toInstant() + "; check this host's clock");
    }
  }

  /** Entra checks the assertion's signature with the uploaded certificate: a mismatched key fails there (AADSTS700027). */
  private static void checkKeyMatches(X509Certificate cert, PrivateKey key, Settings.Certificate c) {
    String keyKey = c.keyFile() != null ? "microsoft.certificate.key-file" : "microsoft.certificate.file";
    if (!(key instanceof RSAPrivateCrtKey rk) || !(cert.getPublicKey() instanceof RSAPublicKey rp)) {
      throw new ConfigException(keyKey, "the key is " + key.getAlgorithm() + "; the token client signs its"
          + " assertion with RSA (RS256/PS256), so create an RSA certificate (e.g. 2048 bits)");
    }
    if (!rk.getModulus().equals(rp.getModulus())) {
      throw new ConfigException(keyKey, "the private key does not belong to the certificate in " + c.file()
          + "; use the key the certificate was created with");
    }
  }
}
