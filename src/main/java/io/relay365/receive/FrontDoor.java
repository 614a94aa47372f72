package io.relay365.receive;

import io.relay365.config.Settings;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.subethamail.smtp.AuthenticationHandlerFactory;
import org.subethamail.smtp.auth.LoginAuthenticationHandlerFactory;
import org.subethamail.smtp.auth.LoginFailedException;
import org.subethamail.smtp.auth.MultipleAuthenticationHandlerFactory;
import org.subethamail.smtp.auth.PlainAuthenticationHandlerFactory;
import org.subethamail.smtp.auth.UsernamePasswordValidator;
import org.subethamail.smtp.server.Session;
import org.subethamail.smtp.server.SessionHandler;

/**
 * Everything between the network and the mail transaction: who may connect, relay and authenticate,
 * TLS, and the protocol limits. It plugs into subethasmtp through its hooks:
 * <ul>
 * <li>a ServerSocket that hands out {@link GuardedSocket}s (TLS from the first byte on the implicit port);</li>
 * <li>a SessionHandler: connections per client address, and 554 5.7.1 at connect for a client that may
 * neither relay nor authenticate;</li>
 * <li>an AuthenticationHandlerFactory (PLAIN, LOGIN) over the {@link UsersFile}, throttled per address;</li>
 * <li>{@link Verbs}, installed over the library's commands.</li>
 * </ul>
 * Extensions advertised are exactly those honoured: 8BITMIME and SMTPUTF8 (the body is stored as
 * sent; UTF-8 addresses are accepted with SMTPUTF8), SIZE, ENHANCEDSTATUSCODES, STARTTLS and AUTH as
 * configured. Not PIPELINING, CHUNKING or DSN (DSN's parameters are tolerated, not acted on).
 */
final class FrontDoor {
  private static final Logger log = LoggerFactory.getLogger(FrontDoor.class);

  private final Settings.Smtp smtp;
  private final Access access;
  private final TlsLayer tls;
  private final UsersFile users;
  private final AuthThrottle throttle;
  private final Map<InetAddress, Integer> perClient = new ConcurrentHashMap<>();
  /** Sessions of both listeners (the library counts each listener on its own). */
  private final java.util.concurrent.atomic.AtomicInteger total = new java.util.concurrent.atomic.AtomicInteger();

  FrontDoor(Settings.Smtp smtp, TlsLayer tls) {
    this.smtp = smtp;
    this.access = new Access(smtp);
    this.tls = tls;
    if (smtp.tls() != null && smtp.tls().required() && tls == null) {
      throw new IllegalArgumentException("smtp.tls.required needs a certificate");
    }
    this.users = smtp.auth() == null ? null : new UsersFile(smtp.auth().usersFile());
    this.throttle = smtp.auth() == null ? null : new AuthThrottle(smtp.auth().failureDelay());
  }

  Settings.Smtp smtp() {
    return smtp;
  }

  Access access() {
    return access;
  }

  TlsLayer tls() {
    return tls;
  }

  boolean tlsRequired() {
    return smtp.tls() != null && smtp.tls().required();
  }

  /** The authenticated user of the session, or null. */
  String user(Session sess) {
    return sess.getAuthenticationHandler().map(h -> String.valueOf(h.getIdentity())).orElse(null);
  }

  /** A server socket whose accepted sockets are guarded; with implicitTls, TLS is layered at once (RFC 8314 3.3). */
  ServerSocket serverSocket(boolean implicitTls) throws IOException {
    return new ServerSocket() {
      @Override
      public Socket accept() throws IOException {
        Socket raw = super.accept();
        try {
          // A reply is complete when written, and subethasmtp writes multi-line replies line by line: with
          // Nagle's algorithm (RFC 896) each later line waits for the ACK of the first, which the client
          // delays (RFC 1122 4.2.3.2, 40 ms on Linux); every EHLO then cost a session 40 ms.
          raw.setTcpNoDelay(true);
          Socket s = implicitTls ? tls.layer(raw) : raw;
          return new GuardedSocket(s, new Connection(raw.getInetAddress(), implicitTls, smtp.timeout(),
              smtp.sessionTimeout(), smtp.maxErrors()));
        } catch (IOException | RuntimeException e) {
          raw.close();
          throw e;
        }
      }
    };
  }

  SessionHandler sessions() {
    return new SessionHandler() {
      @Override
      public SessionAcceptance accept(Session session) {
        Connection c = Verbs.connection(session);
        if (c.implicitTls) {
          session.setTlsStarted(true);
        }
        InetAddress client = c.client;
        if (total.incrementAndGet() > smtp.maxConnections()) {
          total.decrementAndGet();
          return SessionAcceptance.failure(421, "4.7.0 Too many connections, try again later");
        }
        int n = perClient.merge(client, 1, Integer::sum);
        if (n > smtp.maxConnectionsPerClient()) {
          release(client);
          total.decrementAndGet();
          log.info("Client {} has {} connections already; refused", Access.show(client), n - 1);
          return SessionAcceptance.failure(421, "4.7.0 Too many connections from your address, try again later");
        }
        if (!access.mayRelay(client) && !access.mayAuthenticate(client, c.implicitTls)) {
          release(client);
          total.decrementAndGet();
          SpoolingHandler.MAIL_LOG.info("refused client={} reason=not-in-allowed-networks", Access.show(client));
          return SessionAcceptance.failure(554, "5.7.1 " + Access.show(client) + " may not use this relay");
        }
        c.counted = true;
        return SessionAcceptance.success();
      }

      @Override
      public void onSessionEnd(Session session) {
        Connection c = Verbs.connection(session);
        if (c.counted) {
          c.counted = false;
          release(c.client);
          total.decrementAndGet();
        }
      }
    };
  }

  private void release(InetAddress client) {
    perClient.computeIfPresent(client, (k, v) -> v <= 1 ? null : v - 1);
  }

  /** PLAIN and LOGIN over the users file; null when AUTH is not configured. */
  AuthenticationHandlerFactory authentication() {
    if (users == null) {
      return null;
    }
    UsernamePasswordValidator check = (user, password, ctx) -> {
      InetAddress client = ((InetSocketAddress) ctx.getRemoteAddress()).getAddress();
      throttle.pause(client);
      if (!users.verify(user, password.toCharArray())) {
        throttle.failed(client);
        SpoolingHandler.MAIL_LOG.info("auth-failed user={} client={} next-delay={}ms", Access.logSafe(user),
            Access.show(client), throttle.delay(client).toMillis());
        throw new LoginFailedException();
      }
      throttle.succeeded(client);
    };
    return new MultipleAuthenticationHandlerFactory(List.of(
        new PlainAuthenticationHandlerFactory(check), new LoginAuthenticationHandlerFactory(check)));
  }
}
