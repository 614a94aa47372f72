package io.relay365.receive;

import io.relay365.config.Settings;
import io.relay365.store.Admission;
import io.relay365.store.Envelope;
import io.relay365.store.Spool;
import java.io.IOException;
import java.net.InetAddress;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.subethamail.smtp.server.SMTPServer;

/**
 * The SMTP listener the devices talk to (subethasmtp 7.2.2, one blocking thread per session).
 * Accepted messages go to the {@link Spool}; {@code onQueued} is told of each after its durable commit.
 * Limits come from {@code smtp.*}: SIZE is advertised and enforced while streaming (the library only
 * advertises it); access control, TLS, AUTH and the protocol rules are {@link FrontDoor}'s. With
 * smtp.tls.implicit-listen a second listener speaks TLS from the first byte (its own session pool).
 */
public final class SmtpListener implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SmtpListener.class);
  /** stop() waits without limit for session threads (libraries.md 3); this is how long we wait instead. */
  static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);
  /** ServerThread's semaphore allows this many sockets beyond maxConnections (to send them a 421). */
  private static final int ACCEPT_SLACK = 10;

  private final Settings.Smtp smtp;
  private final Spool spool;
  private final Consumer<Envelope> onQueued;
  private final AdmittingHandler.Door gate;
  private SMTPServer server;
  private ThreadPoolExecutor sessions;
  private SMTPServer tlsServer;
  private ThreadPoolExecutor tlsSessions;
  private boolean closed;

  public SmtpListener(Settings.Smtp smtp, Spool spool, Consumer<Envelope> onQueued) {
    this(smtp, spool, onQueued, Admission.ALWAYS);
  }

  /** @param admission asked at each MAIL FROM; a refusal is answered {@code 452 4.3.1} (back-pressure) */
  public SmtpListener(Settings.Smtp smtp, Spool spool, Consumer<Envelope> onQueued, Admission admission) {
    this.gate = new AdmittingHandler.Door(Objects.requireNonNull(admission, "admission"));
    this.smtp = Objects.requireNonNull(smtp, "smtp");
    this.spool = Objects.requireNonNull(spool, "spool");
    this.onQueued = Objects.requireNonNull(onQueued, "onQueued");
    if (smtp.maxMessageSize() <= 0) {
      // with 0, subethasmtp refuses every MAIL FROM ... SIZE=n (libraries.md 3)
      throw new IllegalArgumentException("smtp.max-message-size must be > 0");
    }
    Objects.requireNonNull(smtp.hostname(), "smtp.hostname");
    new Access(smtp); // refuses an open-relay network list before anything listens
  }

  public synchronized void start() throws IOException {
    if (server != null) {
      throw new IllegalStateException("already started");
    }
    TlsLayer tls = smtp.tls() == null ? null : TlsLayer.fromPem(smtp.tls());
    FrontDoor door = new FrontDoor(smtp, tls);
    sessions = pool("smtp-session-");
    server = build(door, smtp.listenHost(), smtp.listenPort(), false, sessions, "smtp-listener");
    if (tls != null && smtp.tls().implicitHost() != null) {
      tlsSessions = pool("smtps-session-");
      try {
        tlsServer = build(door, smtp.tls().implicitHost(), smtp.tls().implicitPort(), true, tlsSessions,
            "smtps-listener");
      } catch (IOException e) {
        stopQuietly(server);
        server = null;
        throw e;
      }
    }
    log.info("SMTP listening on {}:{}{} as {} (max message {} bytes, {} recipients, {} connections, {} per client,"
        + " timeout {}, session {}, relay without AUTH from {}, AUTH {}, TLS {})",
        smtp.listenHost(), server.getPortAllocated(),
        tlsServer == null ? "" : " and implicit TLS on " + smtp.tls().implicitHost() + ":" + tlsServer.getPortAllocated(),
        smtp.hostname(), smtp.maxMessageSize(), smtp.maxRecipients(), smtp.maxConnections(),
        smtp.maxConnectionsPerClient(), smtp.timeout(), smtp.sessionTimeout(), smtp.allowedNetworks(),
        smtp.auth() == null ? "off" : "on", tls == null ? "off" : smtp.tls().required() ? "required" : "offered");
  }

  private ThreadPoolExecutor pool(String prefix) {
    AtomicInteger n = new AtomicInteger();
    // subethasmtp 7.2.2 accepts up to maxConnections + 10 sockets (a semaphore taken before accept());
    // sessions beyond maxConnections run only to answer "421 Too many connections, try again later",
    // which they can do only if they get a thread: with exactly maxConnections threads they would wait
    // silently in the queue. Further clients wait in the kernel's accept backlog.
    int threads = smtp.maxConnections() + ACCEPT_SLACK;
    ThreadPoolExecutor p = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS,
        new LinkedBlockingQueue<>(), r -> {
          Thread t = new Thread(r, prefix + n.incrementAndGet());
          t.setDaemon(true);
          return t;
        });
    p.allowCoreThreadTimeOut(true);
    return p;
  }

  private SMTPServer build(FrontDoor door, String host, int port, boolean implicitTls, ThreadPoolExecutor pool,
      String threadName) throws IOException {
    long maxSize = smtp.maxMessageSize();
    String hostname = smtp.hostname();
    SecureRandom random = new SecureRandom();
    SMTPServer.Builder b = SMTPServer.port(port)
        .bindAddress(InetAddress.getByName(host))
        .hostName(hostname) // set explicitly: the default does a DNS lookup at build()
        .softwareName("relay365")
        .maxMessageSize((int) Math.min(maxSize, Integer.MAX_VALUE))
        .maxRecipients(smtp.maxRecipients())
        .maxConnections(smtp.maxConnections())
        .connectionTimeoutMs((int) Math.min(smtp.timeout().toMillis(), Integer.MAX_VALUE))
        .insertReceivedHeaders(false) // we add our own, with the queue id
        .executorService(pool)
        .serverThreadName(threadName)
        .serverSocketFactory(() -> door.serverSocket(implicitTls))
        .sessionHandler(door.sessions())
        // enableTLS only makes the library's STARTTLS usable; ours (Verbs.StartTls) replaces it
        .enableTLS(door.tls() != null)
        .messageHandlerFactory(ctx -> new AdmittingHandler(new SpoolingHandler(ctx, spool, onQueued, maxSize,
            hostname, () -> Long.toString(random.nextLong() >>> 1, 36), smtp.bareLf()), gate));
    if (door.authentication() != null) {
      b.authenticationHandlerFactory(door.authentication());
    }
    SMTPServer s = b.build();
    Verbs.install(s.getCommandHandler(), door);
    try {
      s.start();
    } catch (RuntimeException e) {
      pool.shutdownNow();
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      throw new IOException("Cannot listen for SMTP on " + host + ":" + port + ": " + cause, cause);
    }
    return s;
  }

  /** The bound port (the ephemeral one when listenPort is 0). */
  public synchronized int port() {
    if (server == null) {
      throw new IllegalStateException("not started");
    }
    return server.getPortAllocated();
  }

  /** The bound implicit-TLS port, or -1 when smtp.tls.implicit-listen is not set. */
  public synchronized int implicitTlsPort() {
    if (server == null) {
      throw new IllegalStateException("not started");
    }
    return tlsServer == null ? -1 : tlsServer.getPortAllocated();
  }

  private static void stopQuietly(SMTPServer s) {
    try {
      s.stop();
    } catch (RuntimeException e) {
      log.warn("SMTP stop: {}", e.toString());
    }
  }

  /**
   * Stops listening and closes every session. subethasmtp's stop() force-closes the sockets (a session in
   * DATA then fails its read and drops its temp entry) but then waits forever for the threads, so it runs
   * on its own thread and we give up after {@link #STOP_TIMEOUT}, interrupting what is left.
   */
  /**
   * Graceful stop (SIGTERM): new MAIL FROM gets {@code 421 4.3.2} at once, mail transactions already in
   * progress get up to {@code drain} to finish (their 250 depends on the spool commit, so none is cut
   * short needlessly), then {@link #close()}.
   */
  public void close(Duration drain) {
    gate.close();
    try {
      if (gate.inProgress() > 0) {
        log.info("waiting up to {} for {} SMTP transaction(s) in progress", drain, gate.inProgress());
        if (!gate.awaitIdle(drain)) {
          log.warn("{} SMTP transaction(s) still in progress after {}; closing them (clients get no 250 and"
              + " keep their copy)", gate.inProgress(), drain);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    close();
  }

  @Override
  public synchronized void close() {
    gate.close();
    if (closed || server == null) {
      closed = true;
      return;
    }
    closed = true;
    stop(server, sessions, "smtp-stop");
    if (tlsServer != null) {
      stop(tlsServer, tlsSessions, "smtps-stop");
    }
  }

  private static void stop(SMTPServer s, ThreadPoolExecutor pool, String name) {
    Thread stopper = new Thread(() -> stopQuietly(s), name);
    stopper.setDaemon(true);
    stopper.start();
    try {
      stopper.join(STOP_TIMEOUT.toMillis());
      if (stopper.isAlive()) {
        log.warn("SMTP sessions still busy after {}; interrupting them", STOP_TIMEOUT);
        pool.shutdownNow();
        stopper.join(1000);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      pool.shutdownNow();
    }
  }
}
