package io.relay365.deliver;

import io.relay365.config.Settings;
import io.relay365.deliver.Outcome.Kind;
import io.relay365.deliver.SmtpConnection.Reply;
import io.relay365.deliver.SmtpOutcomes.Stage;
import io.relay365.tls.TrustStores;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import jakarta.mail.Session;
import java.io.IOException;
import java.nio.charset.Charset;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers by SMTP client submission to Exchange Online (smtp.office365.com:587) with AUTH XOAUTH2 and an
 * app-only token carrying SMTP.SendAsApp (microsoft-wire.md §4). Unlike EWS and Graph it keeps true envelope
 * semantics: MAIL FROM is the sending mailbox, RCPT TO every envelope recipient, DATA the spooled MIME (after
 * {@link MimeHygiene}, without Bcc: headers), so hidden recipients need nothing special.
 *
 * <p><b>Why angus-mail and not vertx-mail-client.</b> vertx-mail-client 5.0.7 supports XOAUTH2 but cannot send a
 * pre-built message: its MailEncoder always builds the MIME from MailMessage fields (text re-encoded as
 * quoted-printable, headers regenerated, bodies held as Strings), so the device's MIME would not arrive as
 * sent. angus-mail's SMTPTransport (maintained; already here through subethasmtp) does STARTTLS with our own
 * trust and host-name check, XOAUTH2, and lets the transaction be driven command by command. It is blocking,
 * so every call runs on a bounded worker pool "smtp-oauth" (delivery.concurrency threads), never on an event
 * loop.
 *
 * <p><b>Why MAIL FROM is the sending mailbox</b> (Submission.mailbox(), not the device's envelope sender):
 * Exchange checks SendAs against the authenticated mailbox, so any other address would be refused
 * (5.2.252 SendAsDenied / 5.7.60); bounces then go to the mailbox, which can read them.
 *
 * <p><b>Sessions.</b> Authenticated sessions are kept per mailbox and reused with RSET between messages, at
 * most min(delivery.per-mailbox-concurrency, {@value #MAX_CONNECTIONS_PER_MAILBOX}) per mailbox, closed after
 * {@link #IDLE_CLOSE} unused or {@link #MAX_AGE} old. A new session takes the cached token (never one per
 * message); an AUTH refusal that a fresh token may cure (535 5.7.3 with a token that has not worked yet)
 * drops it from the cache and tries once more.
 *
 * <p><b>Recipients.</b> Every refusal is classified by {@link SmtpOutcomes}. Any temporary (or configuration)
 * refusal: RSET, and the whole message is tried again later, so nobody gets it twice. Every recipient refused
 * permanently: the message is permanent (dead letter, notice if delivery.dsn). Some refused permanently, the
 * others accepted: it is sent to the accepted ones and each refusal is written to the mail log
 * ("refused-rcpt"), since Outcome has no "partly delivered" and holding the good recipients' mail for an
 * address that can never succeed would lose it for them.
 */
public final class SmtpOauthTransport implements Transport {
  private static final Logger LOG = LoggerFactory.getLogger(SmtpOauthTransport.class);
  private static final Logger MAIL = LoggerFactory.getLogger("relay365.mail");

  /** Name of the shared worker pool; its threads are called "smtp-oauth-0", "smtp-oauth-1", … */
  public static final String POOL = "smtp-oauth";
  /**
   * GUESS: Exchange Online answers "432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded" above about
   * three concurrent submissions of one mailbox, so the relay never opens more.
   */
  static final int MAX_CONNECTIONS_PER_MAILBOX = 3;
  /** GUESS: well below the idle time after which Exchange drops a submission session. */
  static final Duration IDLE_CLOSE = Duration.ofSeconds(30);
  /** A session is not reused after this long, whatever happens (tokens rotate, servers are drained). */
  static final Duration MAX_AGE = Duration.ofMinutes(10);
  private static final long REAP_EVERY_MS = 5_000;

  private final Settings.SmtpOauth smtp;
  private final TokenCache tokens;
  private final WorkerExecutor workers;
  private final Session session;
  private final ScheduledThreadPoolExecutor writeTimeouts;
  private final SmtpConnections connections;
  private final MimeHygiene hygiene = new MimeHygiene(Charset.forName("windows-1252"));
  private final MemoryBudget memory = MemoryBudget.ofHeap();
  private final Vertx vertx;
  private final long reaper;
  private volatile String lastGoodToken;
  private volatile boolean closed;

  /**
   * @param ehloName the name this relay gives in EHLO (smtp.hostname)
   * @param caFile   extra CAs trusted besides the system's (microsoft.ca-file), or null
   */
  public SmtpOauthTransport(Vertx vertx, Settings.SmtpOauth smtp, Settings.Delivery delivery, String ehloName,
      TokenCache tokens, Path caFile) throws IOException, GeneralSecurityException {
    this.vertx = vertx;
    this.smtp = smtp;
    this.tokens = tokens;
    this.connections = new SmtpConnections(Math.min(delivery.perMailboxConcurrency(), MAX_CONNECTIONS_PER_MAILBOX));
    this.writeTimeouts = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "smtp-oauth-write-timeout");
      t.setDaemon(true);
      return t;
    });
    writeTimeouts.setRemoveOnCancelPolicy(true); // every write schedules and cancels one task
    this.session = Session.getInstance(properties(smtp, ehloName, TrustStores.clientContext(caFile), writeTimeouts));
    // an attempt may wait for a slot, a token and the server, and open a session twice (AUTH retry)
    long maxExecuteMs = smtp.timeout().toMillis() * 4 + 10_000;
    this.workers = vertx.createSharedWorkerExecutor(POOL, Math.max(1, delivery.concurrency()), maxExecuteMs,
        TimeUnit.MILLISECONDS);
    this.reaper = vertx.setPeriodic(REAP_EVERY_MS, id -> {
      if (connections.idleCount() > 0) {
        workers.executeBlocking(() -> {
          closeIdle();
          return null;
        }, false);
      }
    });
  }

  /**
   * angus-mail's settings: STARTTLS required, TLS 1.2+, our trust, host name checked, XOAUTH2 only, timeouts.
   * Public for doctor, which must talk to the server exactly as delivery does.
   *
   * @param writeTimeouts runs the write timeouts of every socket; null = a thread per socket (fine for a few)
   */
  public static Properties properties(Settings.SmtpOauth smtp, String ehloName, javax.net.ssl.SSLContext tls,
      java.util.concurrent.ScheduledExecutorService writeTimeouts) {
    String ms = String.valueOf(smtp.timeout().toMillis());
    Properties p = new Properties();
    p.put("mail.smtp.starttls.enable", "true");
    p.put("mail.smtp.starttls.required", "true");     // never AUTH or mail in clear text
    p.put("mail.smtp.socketFactory", new SmtpConnection.TcpSockets()); // plain TCP, before STARTTLS
    p.put("mail.smtp.ssl.socketFactory", tls.getSocketFactory()); // system CAs + microsoft.ca-file
    p.put("mail.smtp.ssl.protocols", "TLSv1.3 TLSv1.2");
    p.put("mail.smtp.ssl.checkserveridentity", "true"); // RFC 6125 host name check (angus default, made explicit)
    p.put("mail.smtp.auth", "true");
    p.put("mail.smtp.auth.mechanisms", "XOAUTH2");
    p.put("mail.smtp.connectiontimeout", ms);
    p.put("mail.smtp.timeout", ms);                     // each reply
    p.put("mail.smtp.writetimeout", ms);                // a server that stops reading during DATA
    if (writeTimeouts != null) {
      p.put("mail.smtp.executor.writetimeout", writeTimeouts);
    }
    p.put("mail.smtp.localhost", ehloName);
    p.put("mail.smtp.quitwait", "false");               // closing never waits for the server
    p.put("mail.debug.auth", "false");                  // keep AUTH (the token) out of any protocol trace
    return p;
  }

  @Override
  public Future<Outcome> send(Submission submission) {
    if (closed) {
      return Future.succeededFuture(Outcome.transientFailure("closed", "the SMTP transport is shutting down", null));
    }
    return workers.<Outcome>executeBlocking(() -> deliver(submission), false)
        .recover(e -> Future.succeededFuture(SmtpOutcomes.fromFailure(e, false)));
  }

  /** One attempt, on a smtp-oauth-* worker thread. Never throws. */
  Outcome deliver(Submission s) {
    List<String> rcpts = distinct(s.envelope().recipients());
    if (rcpts.isEmpty()) {
      return Outcome.permanent("no-recipients", "the envelope has no recipient");
    }
    OutgoingMime.Scan scan;
    try {
      scan = OutgoingMime.scan(s.message());
    } catch (NoSuchFileException e) {
      return Outcome.permanent("spool", "the spooled message file is missing: " + s.message());
    } catch (IOException e) {
      return Outcome.transientFailure("spool", "cannot read the spooled message: " + e.getMessage(), null);
    }
    // A message that needs repair is held whole (original, Bcc-less copy, cleaned copy); a streamed one is not.
    try (MemoryBudget.Reservation r = scan.inMemory()
        ? memory.reserve(scan.length() * 3, smtp.timeout().toMillis()) : () -> { }) {
      if (r == null) {
        return Outcome.transientFailure("memory",
            "waiting for heap: other large messages are being sent (raise -Xmx for more in parallel)", null);
      }
      OutgoingMime message;
      try {
        message = OutgoingMime.prepare(s.message(), scan, hygiene);
      } catch (IOException e) {
        return Outcome.transientFailure("spool", "cannot read the spooled message: " + e.getMessage(), null);
      }
      if (!connections.acquire(s.mailbox(), smtp.timeout().toMillis())) {
        return Outcome.transientFailure("busy", "all " + connections.perMailbox() + " SMTP sessions of this mailbox"
            + " stayed busy for smtp-oauth.timeout", null);
      }
      try {
        return log(s, attempt(s, rcpts, message));
      } finally {
        connections.release(s.mailbox());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Outcome.transientFailure("interrupted", "the relay is stopping", null);
    }
  }

  private Outcome attempt(Submission s, List<String> rcpts, OutgoingMime message) {
    SmtpConnection c = null;
    try {
      c = lease(s.mailbox());
      return transact(c, s, rcpts, message);
    } catch (SmtpConnection.Refused r) {
      return SmtpOutcomes.fromReply(r.reply.stage(), r.reply.code(), r.reply.text());
    } catch (OutgoingMime.SpoolReadException e) {
      return Outcome.transientFailure("spool", e.getMessage(), null);
    } catch (Exception e) {
      return SmtpOutcomes.fromFailure(e, c != null && c.dotSent());
    } finally {
      giveBack(c);
    }
  }

  /** An idle session of the mailbox that still answers RSET, or a new one. */
  private SmtpConnection lease(String mailbox) throws Exception {
    SmtpConnection idle;
    long now = System.nanoTime();
    while ((idle = connections.takeIdle(mailbox)) != null) {
      if (now - idle.opened < MAX_AGE.toNanos() && idle.reset()) { // RSET between messages (RFC 5321 4.1.1.5)
        return idle;
      }
      idle.closeQuietly();
    }
    String token = token();
    try {
      return open(mailbox, token);
    } catch (SmtpConnection.Refused r) {
      // 535 5.7.3 is also what an expired or revoked token gets. A token that already authenticated some
      // session is not the cause; one that never did may be: fetch a new one, once.
      if (r.reply.stage() == Stage.AUTH && SmtpOutcomes.tokenMayBeStale(r.reply.code(), r.reply.text())
          && !token.equals(lastGoodToken)) {
        tokens.invalidate(token);
        return open(mailbox, token());
      }
      throw r;
    }
  }

  private SmtpConnection open(String mailbox, String token) throws jakarta.mail.MessagingException {
    SmtpConnection c = new SmtpConnection(session, mailbox, token);
    c.open(smtp.host(), smtp.port());
    lastGoodToken = token;
    return c;
  }

  private Outcome transact(SmtpConnection c, Submission s, List<String> rcpts, OutgoingMime message)
      throws jakarta.mail.MessagingException, IOException {
    String mailbox = s.mailbox();
    boolean utf8 = !ascii(mailbox) || rcpts.stream().anyMatch(r -> !ascii(r));
    Reply r = c.mailFrom(mailbox, message.size(), message.eightBit(), utf8);
    if (!r.ok()) {
      return refusal(c, r);
    }
    Outcome temporary = null;
    Outcome permanent = null;
    List<String> refused = new ArrayList<>();
    int accepted = 0;
    for (String rcpt : rcpts) {
      r = c.rcptTo(rcpt);
      if (r.ok()) {
        accepted++;
        continue;
      }
      if (r.closing()) {
        return refusal(c, r);
      }
      Outcome o = SmtpOutcomes.fromReply(Stage.RCPT, r.code(), r.text());
      refused.add(rcpt + " " + o.code() + " " + SmtpOutcomes.oneLine(SmtpOutcomes.stripCode(r.code(), r.text())));
      if (o.kind() != Kind.PERMANENT) {
        temporary = temporary == null || o.kind() == Kind.CONFIGURATION ? o : temporary;
      } else if (permanent == null) {
        permanent = o;
      }
    }
    if (temporary != null || accepted == 0) {
      c.reset(); // nothing was sent; the whole message waits for a try that can reach everyone
      return temporary != null ? temporary : permanent;
    }
    r = c.data(message);
    if (r.stage() == Stage.DATA) {
      return refusal(c, r);
    }
    if (r.code() < 0) {
      return SmtpOutcomes.closed(Stage.DOT, true);
    }
    Outcome o = SmtpOutcomes.fromReply(Stage.DOT, r.code(), r.text());
    if (o.isDelivered()) {
      for (String x : refused) {
        MAIL.info("refused-rcpt id={} mailbox={} rcpt={}; delivered to the other {} recipient(s)", s.envelope().id(),
            mailbox, x, accepted);
      }
    }
    return o;
  }

  /** A refused command (not RCPT): classified; the transaction is reset unless the server is going away. */
  private static Outcome refusal(SmtpConnection c, Reply r) {
    if (r.code() < 0) {
      return SmtpOutcomes.closed(r.stage(), false);
    }
    if (!r.closing()) {
      c.reset();
    }
    return SmtpOutcomes.fromReply(r.stage(), r.code(), r.text());
  }

  private void giveBack(SmtpConnection c) {
    if (c == null) {
      return;
    }
    if (!closed && c.healthy()) {
      c.lastUsed = System.nanoTime();
      connections.putIdle(c);
    } else {
      c.closeQuietly();
    }
  }

  /** Closes the sessions idle for {@link #IDLE_CLOSE} or older than {@link #MAX_AGE} (worker thread). */
  private void closeIdle() {
    connections.expired(System.nanoTime(), IDLE_CLOSE.toNanos(), MAX_AGE.toNanos())
        .forEach(SmtpConnection::closeQuietly);
  }

  /** Idle authenticated sessions kept right now (for tests and status). */
  int idleSessions() {
    return connections.idleCount();
  }

  private Outcome log(Submission s, Outcome o) {
    LOG.debug("{} as {}: {}", s.envelope().id(), s.mailbox(), o);
    return o;
  }

  private String token() throws TokenException {
    try {
      return tokens.token().get(smtp.timeout().toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      Throwable cause = TokenCache.unwrap(e);
      if (cause instanceof TokenException t) {
        throw t;
      }
      throw new TokenException("token request failed: " + cause, null, null, 0, Kind.TRANSIENT, null, cause);
    } catch (TimeoutException e) {
      throw new TokenException("no token within smtp-oauth.timeout", null, "timeout", 0, Kind.TRANSIENT, null, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new TokenException("interrupted", null, "interrupted", 0, Kind.TRANSIENT, null, e);
    }
  }

  /** Envelope recipients without case-insensitive duplicates, in order (one RCPT each). */
  static List<String> distinct(List<String> rcpts) {
    Map<String, String> m = new LinkedHashMap<>();
    for (String r : rcpts) {
      m.putIfAbsent(r.toLowerCase(Locale.ROOT), r);
    }
    return new ArrayList<>(m.values());
  }

  private static boolean ascii(String s) {
    return s.chars().allMatch(ch -> ch < 128);
  }

  /**
   * Stops using the transport. Idle sessions get their QUIT on a thread of their own: this may be called on an
   * event loop, and closing TLS may wait (briefly) for the server.
   */
  @Override
  public void close() {
    closed = true;
    vertx.cancelTimer(reaper);
    workers.close();
    List<SmtpConnection> idle = connections.drain();
    Thread quit = new Thread(() -> {
      idle.forEach(SmtpConnection::closeQuietly);
      writeTimeouts.shutdownNow();
    }, "smtp-oauth-close");
    quit.setDaemon(true);
    quit.start();
  }
}
