package io.relay365.sandbox;

import java.io.IOException;
import java.io.StringReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;

/**
 * Exchange Online's SMTP client submission endpoint (smtp.office365.com:587), faked on a port of its own:
 * plain TCP, STARTTLS with the sandbox's server certificate, AUTH XOAUTH2 with the sandbox's tokens, and the
 * per-mailbox limits of Exchange Online (microsoft-wire.md §4, §5). The dialogue is in {@link SmtpSession};
 * this class holds the listener and what the sessions share: per-mailbox submission counts (30 a minute)
 * and submissions in progress ("sender thread limit"), and the counters of /_sandbox/stats.
 *
 * <p>A small blocking server of its own rather than subethasmtp: Exchange's replies (enhanced status codes,
 * "530 5.7.0 Must issue a STARTTLS command first", "530 5.7.57 …", no STARTTLS after TLS) must be exact,
 * and subethasmtp hard-codes its own. One thread per connection; a sandbox serves a handful.
 */
final class SmtpEndpoint {
  /** The server name in greetings and in the "[host]" of Exchange's replies (any name would do). */
  static final String HOST_NAME = "SBX0PR01MB0001.prod.sandbox.outlook.com";

  private final Sandbox sandbox;
  private final SSLContext tls;
  private ServerSocket server;
  private ExecutorService pool;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private final Map<String, AtomicInteger> submitting = new ConcurrentHashMap<>();
  private final Map<String, ArrayDeque<Long>> accepted = new HashMap<>();
  final AtomicInteger sessions = new AtomicInteger();
  final AtomicInteger messages = new AtomicInteger();
  final AtomicInteger quotaRejections = new AtomicInteger();
  private volatile boolean closed;

  SmtpEndpoint(Sandbox sandbox) throws IOException, GeneralSecurityException {
    this.sandbox = sandbox;
    this.tls = serverContext(sandbox.pki().serverCertPem, sandbox.pki().serverKeyPem);
  }

  /** Binds {@code host:port} (0 = ephemeral) and starts accepting. */
  void start(String host, int port) throws IOException {
    server = new ServerSocket();
    server.setReuseAddress(true);
    server.bind(new InetSocketAddress(InetAddress.getByName(host), port), 50);
    AtomicInteger n = new AtomicInteger();
    pool = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "sandbox-smtp-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    pool.execute(this::acceptLoop);
  }

  int port() {
    return server == null ? -1 : server.getLocalPort();
  }

  private void acceptLoop() {
    while (!closed) {
      Socket s;
      try {
        s = server.accept();
      } catch (IOException e) {
        return; // closed
      }
      sessions.incrementAndGet();
      open.add(s);
      pool.execute(() -> {
        try {
          new SmtpSession(this, s).run();
        } finally {
          open.remove(s);
          closeQuietly(s);
        }
      });
    }
  }

  void close() {
    closed = true;
    if (server != null) {
      closeQuietly(server);
    }
    for (Socket s : open) {
      closeQuietly(s);
    }
    if (pool != null) {
      pool.shutdownNow();
    }
  }

  // ---- shared by the sessions ------------------------------------------------------------------

  Sandbox sandbox() {
    return sandbox;
  }

  SSLContext tls() {
    return tls;
  }

  /** One more submission of {@code mailbox} in progress; returns how many there are now. */
  int enter(String mailbox) {
    return submitting.computeIfAbsent(mailbox.toLowerCase(Locale.ROOT), k -> new AtomicInteger()).incrementAndGet();
  }

  void leave(String mailbox) {
    AtomicInteger c = submitting.get(mailbox.toLowerCase(Locale.ROOT));
    if (c != null) {
      c.decrementAndGet();
    }
  }

  /**
   * Counts one accepted submission of {@code mailbox}, unless it already had {@code rate} in the last window:
   * then false (Exchange rejects it, §4: "rejected, not queued").
   */
  boolean admit(String mailbox, int rate, long windowMillis) {
    if (rate <= 0) {
      return true;
    }
    long now = System.currentTimeMillis();
    synchronized (accepted) {
      ArrayDeque<Long> q = accepted.computeIfAbsent(mailbox.toLowerCase(Locale.ROOT), k -> new ArrayDeque<>());
      while (!q.isEmpty() && q.peekFirst() <= now - windowMillis) {
        q.pollFirst();
      }
      if (q.size() >= rate) {
        quotaRejections.incrementAndGet();
        return false;
      }
      q.addLast(now);
      return true;
    }
  }

  private static void closeQuietly(java.io.Closeable c) {
    try {
      c.close();
    } catch (IOException | RuntimeException ignored) {
      // closing anyway
    }
  }

  static boolean isClosedSocket(IOException e) {
    return e instanceof SocketException || e instanceof java.io.EOFException;
  }

  /** A server-side TLS context from the sandbox's PEM server certificate chain and key. */
  static SSLContext serverContext(String chainPem, String keyPem) throws IOException, GeneralSecurityException {
    List<X509Certificate> chain = new ArrayList<>();
    PrivateKey key = null;
    JcaX509CertificateConverter certs = new JcaX509CertificateConverter();
    JcaPEMKeyConverter keys = new JcaPEMKeyConverter();
    for (String pem : List.of(chainPem, keyPem)) {
      try (PEMParser p = new PEMParser(new StringReader(pem))) {
        Object o;
        while ((o = p.readObject()) != null) {
          if (o instanceof X509CertificateHolder h) {
            chain.add(certs.getCertificate(h));
          } else if (o instanceof PEMKeyPair kp) {
            key = keys.getKeyPair(kp).getPrivate();
          } else if (o instanceof PrivateKeyInfo pk) {
            key = keys.getPrivateKey(pk);
          }
        }
      }
    }
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    char[] pw = "sandbox".toCharArray(); // in memory only
    ks.setKeyEntry("smtp", key, pw, chain.toArray(new X509Certificate[0]));
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(ks, pw);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf.getKeyManagers(), null, null);
    return ctx;
  }
}
