package io.relay365.receive;

import io.relay365.config.Settings;
import io.relay365.tls.Pem;
import java.io.IOException;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * Server-side TLS from the PEM certificate chain and key of smtp.tls.*, TLS 1.2 and 1.3 only
 * (RFC 8996 deprecates 1.0 and 1.1). subethasmtp's startTlsSocketFactory(SSLContext) enables every
 * protocol the JDK supports and does a reverse DNS lookup per connection; this layer does neither.
 */
final class TlsLayer {
  static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};
  private final SSLContext context;

  TlsLayer(SSLContext context) {
    this.context = context;
  }

  static TlsLayer fromPem(Settings.Tls tls) throws IOException {
    try {
      List<X509Certificate> chain = Pem.readCertificates(tls.certFile());
      PrivateKey key = Pem.readPrivateKey(tls.keyFile());
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      char[] pw = "relay365".toCharArray(); // in memory only
      ks.setKeyEntry("smtp", key, pw, chain.toArray(new X509Certificate[0]));
      KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(ks, pw);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(kmf.getKeyManagers(), null, null);
      return new TlsLayer(ctx);
    } catch (GeneralSecurityException | RuntimeException e) {
      throw new IOException("Cannot use the SMTP TLS certificate " + tls.certFile() + ": " + e, e);
    }
  }

  /** An SSLSocket over an accepted plain socket, server mode; the handshake happens at first use. */
  SSLSocket layer(Socket plain) throws IOException {
    SSLSocket s = (SSLSocket) context.getSocketFactory().createSocket(plain,
        plain.getInetAddress().getHostAddress(), plain.getPort(), true);
    s.setUseClientMode(false);
    String[] supported = s.getSupportedProtocols();
    s.setEnabledProtocols(Arrays.stream(PROTOCOLS).filter(p -> Arrays.asList(supported).contains(p))
        .toArray(String[]::new));
    return s;
  }
}
