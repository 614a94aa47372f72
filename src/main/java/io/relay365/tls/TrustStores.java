package io.relay365.tls;

import java.io.IOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * Builds the one TLS trust decision used for every outbound connection (token endpoint, EWS, Graph):
 * the JDK's system CAs plus, optionally, an extra PEM bundle (microsoft.ca-file) for TLS-inspecting
 * proxies and the sandbox. Nothing here ever trusts a certificate that neither set vouches for.
 */
public final class TrustStores {
  private TrustStores() {}

  /** An SSLContext trusting the system CAs and the certificates in {@code extraCaFile} (may be null). */
  public static SSLContext clientContext(Path extraCaFile) throws IOException, GeneralSecurityException {
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, new TrustManager[] {trustManager(extraCaFile)}, null);
    return ctx;
  }

  public static X509TrustManager trustManager(Path extraCaFile) throws IOException, GeneralSecurityException {
    X509TrustManager system = fromKeyStore(null);
    if (extraCaFile == null) {
      return system;
    }
    List<X509Certificate> extra = Pem.readCertificates(extraCaFile);
    if (extra.isEmpty()) {
      throw new IOException(extraCaFile + " holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)");
    }
    KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
    ks.load(null, null);
    int i = 0;
    for (X509Certificate c : extra) {
      ks.setCertificateEntry("extra-" + i++, c);
    }
    for (X509Certificate c : system.getAcceptedIssuers()) {
      ks.setCertificateEntry("system-" + i++, c);
    }
    return fromKeyStore(ks);
  }

  private static X509TrustManager fromKeyStore(KeyStore ks) throws GeneralSecurityException {
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ks);
    List<X509TrustManager> found = new ArrayList<>();
    for (TrustManager tm : tmf.getTrustManagers()) {
      if (tm instanceof X509TrustManager x) {
        found.add(x);
      }
    }
    return found.get(0);
  }
}
