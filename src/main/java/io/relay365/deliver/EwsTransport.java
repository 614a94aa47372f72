package io.relay365.deliver;

import io.relay365.config.Settings;
import io.relay365.tls.TrustStores;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLContext;
import microsoft.exchange.webservices.data.core.ExchangeService;
import microsoft.exchange.webservices.data.core.enumeration.misc.ConnectingIdType;
import microsoft.exchange.webservices.data.core.enumeration.misc.ExchangeVersion;
import microsoft.exchange.webservices.data.core.service.item.EmailMessage;
import microsoft.exchange.webservices.data.misc.ImpersonatedUserId;
import microsoft.exchange.webservices.data.property.complex.MimeContent;
import org.apache.http.conn.ssl.SSLConnectionSocketFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers through EWS CreateItem with the raw MIME, impersonating the sending mailbox with an app-only
 * token (microsoft-wire.md §2). ews-java-api is blocking and not thread-safe (libraries.md §4), so every
 * call runs on a bounded shared worker pool named "ews" (threads "ews-N"), each thread with its own
 * ExchangeService, never on an event loop.
 *
 * <p>Two ways to send, one request. A message goes through ews-java-api ({@code EmailMessage.setMimeContent},
 * {@code sendAndSaveCopy}/{@code send}) unless it is larger than {@link #STREAM_ABOVE} or ews-java-api's
 * copies of it ({@link MemoryBudget#EWS_FACTOR} times its size, libraries.md §4) would not fit the memory
 * budget at all; such a message goes as a streamed CreateItem ({@link EwsCreateItem} over
 * {@link EwsStreamingClient}) whose body is read from the spool while it is sent. Both carry the same MIME
 * (Bcc: stripped, {@link MimeHygiene}), BccRecipients, impersonation, Authorization and X-AnchorMailbox, and
 * disposition, and both are classified by {@link EwsOutcomes}.
 *
 * <p>Per attempt: token from {@link TokenCache}; Authorization, X-AnchorMailbox and impersonation set
 * before each call; Bcc: stripped from the MIME and envelope-only recipients sent as BccRecipients
 * (§2.8); one retry with a fresh token after a 401 invalid_token. Every result, failures included,
 * completes the future with an {@link Outcome} classified by {@link EwsOutcomes}.
 */
public final class EwsTransport implements Transport {
  private static final Logger LOG = LoggerFactory.getLogger(EwsTransport.class);

  /** Name of the shared worker pool; its threads are called "ews-0", "ews-1", … */
  public static final String POOL = "ews";

  /**
   * Messages above this size are streamed instead of going through ews-java-api. At 8 MiB the library holds
   * about 56 MiB per send (×{@link MemoryBudget#EWS_FACTOR}): at the smallest heap we support (-Xmx256m,
   * a 128 MiB budget) two such sends still run side by side with small ones, while everyday device mail
   * (scans of a few pages, a few hundred KB to a few MB) stays on the library. Above it, one send would
   * take most of the budget and make every other send wait; streamed, it needs a few 64 KB buffers.
   */
  static final long STREAM_ABOVE = 8L * 1024 * 1024;

  static {
    pinStaxFactories();
  }

  /**
   * ews-java-api calls {@code XMLOutputFactory.newInstance()} and {@code XMLInputFactory.newInstance()} for
   * every request. Without a system property naming the implementation, each call runs the JAXP lookup,
   * which ends in a ServiceLoader scan of every jar on the class path: profiling the Postfix comparison put
   * it among the relay's hottest paths. No other StAX implementation is on our class path, so naming the
   * JDK's own (what the lookup would find anyway) changes nothing but the cost. An operator's own setting
   * is kept.
   */
  static void pinStaxFactories() {
    System.getProperties().putIfAbsent("javax.xml.stream.XMLOutputFactory",
        "com.sun.xml.internal.stream.XMLOutputFactoryImpl");
    System.getProperties().putIfAbsent("javax.xml.stream.XMLInputFactory",
        "com.sun.xml.internal.stream.XMLInputFactoryImpl");
    System.getProperties().putIfAbsent("javax.xml.stream.XMLEventFactory",
        "com.sun.xml.internal.stream.events.XMLEventFactoryImpl");
  }

  private final Settings.Ews ews;
  private final TokenCache tokens;
  private final URI url;
  private final SSLConnectionSocketFactory tls;
  private final WorkerExecutor workers;
  private final ConcurrentLinkedQueue<ExchangeService> services = new ConcurrentLinkedQueue<>();
  private final ThreadLocal<ExchangeService> service;
  private final EwsStreamingClient streaming;
  private final long streamAbove;
  private volatile boolean closed;

  public EwsTransport(Vertx vertx, Settings.Ews ews, TokenCache tokens, Path caFile)
      throws IOException, GeneralSecurityException {
    this(vertx, ews, tokens, caFile, STREAM_ABOVE);
  }

  /** @param streamAbove messages larger than this are streamed (tests use 0 to stream every message) */
  EwsTransport(Vertx vertx, Settings.Ews ews, TokenCache tokens, Path caFile, long streamAbove)
      throws IOException, GeneralSecurityException {
    WireLogs.capSecretBearingLoggers();
    this.ews = ews;
    this.tokens = tokens;
    this.url = URI.create(ews.url());
    this.streamAbove = streamAbove;
    SSLContext context = TrustStores.clientContext(caFile);
    this.tls = new SSLConnectionSocketFactory(context);
    int timeout = (int) Math.min(Integer.MAX_VALUE, ews.timeout().toMillis());
    this.streaming = new EwsStreamingClient(url, context, ews.workers(), timeout);
    // an attempt may wait for a token, then run twice (401 retry): warn only beyond that
    long maxExecuteMs = ews.timeout().toMillis() * 3 + 10_000;
    this.workers = vertx.createSharedWorkerExecutor(POOL, ews.workers(), maxExecuteMs, TimeUnit.MILLISECONDS);
    this.service = ThreadLocal.withInitial(this::newService);
  }

  private ExchangeService newService() {
    ExchangeService svc = StrictTlsExchangeService.create(ExchangeVersion.Exchange2010_SP2, tls);
    svc.setUrl(url);
    svc.setTimeout((int) Math.min(Integer.MAX_VALUE, ews.timeout().toMillis()));
    // tracing would log "Authorization: Bearer …" and the whole MIME (libraries.md §4)
    svc.setTraceEnabled(false);
    services.add(svc);
    return svc;
  }

  @Override
  public Future<Outcome> send(Submission submission) {
    if (closed) {
      return Future.succeededFuture(Outcome.transientFailure("closed", "the EWS transport is shutting down", null));
    }
    return workers.<Outcome>executeBlocking(() -> deliver(submission), false)
        .recover(e -> Future.succeededFuture(EwsOutcomes.classify(e, null, false)));
  }

  /** Repairs bare LFs, 8-bit headers and over-long lines that Exchange would reject or mangle. */
  private final MimeHygiene hygiene = new MimeHygiene(java.nio.charset.Charset.forName("windows-1252"));

  private final MemoryBudget memory = MemoryBudget.ofHeap();

  /** Whether a message of this size is streamed rather than sent through ews-java-api. */
  boolean streams(long size) {
    return size > streamAbove || size * MemoryBudget.EWS_FACTOR > memory.bytes();
  }

  /** One attempt, on an ews-* worker thread. Never throws. */
  Outcome deliver(Submission s) {
    long size;
    long bodyStart = -1;
    try {
      size = Files.size(s.message());
      if (streams(size)) {
        bodyStart = SpooledMime.streamableBodyStart(s.message(), size);
      }
    } catch (NoSuchFileException e) {
      return Outcome.permanent("spool", "the spooled message file is missing: " + s.message());
    } catch (IOException e) {
      return Outcome.transientFailure("spool", "cannot read the spooled message: " + e.getMessage(), null);
    }
    boolean library = !streams(size);
    // ews-java-api holds several copies; a streamed message whose body needs repairs is cleaned in memory
    // (the original and the repaired copy); one streamed from the file holds a few buffers
    long heap = library ? size * MemoryBudget.EWS_FACTOR
        : bodyStart < 0 ? size * MemoryBudget.IN_MEMORY_FACTOR : 1;
    try (MemoryBudget.Reservation r = memory.reserve(heap, ews.timeout().toMillis())) {
      if (r == null) {
        return Outcome.transientFailure("memory",
            "waiting for heap: other large messages are being sent (raise -Xmx for more in parallel)", null);
      }
      SpooledMime mime;
      try {
        mime = bodyStart < 0 ? SpooledMime.inMemory(s.message(), s.envelope().recipients(), hygiene)
            : SpooledMime.streamed(s.message(), size, bodyStart, s.envelope().recipients(), hygiene);
      } catch (NoSuchFileException e) {
        return Outcome.permanent("spool", "the spooled message file is missing: " + s.message());
      } catch (IOException e) {
        return Outcome.transientFailure("spool", "cannot read the spooled message: " + e.getMessage(), null);
      }
      if (library) {
        try {
          return withTokenRetry(s, throughLibrary(s.mailbox(), mime.bytes(), mime.bcc()));
        } finally {
          ((StrictTlsExchangeService) service.get()).forgetLastExchange();
        }
      }
      return withTokenRetry(s, streamed(s.mailbox(), mime));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Outcome.transientFailure("interrupted", "the relay is stopping", null);
    }
  }

  /** One CreateItem with a token, classified; null only for a 401 invalid_token that a fresh token may cure. */
  private interface Attempt {
    Outcome send(String token, boolean afterFreshToken);
  }

  private Attempt throughLibrary(String mailbox, byte[] mime, List<String> bcc) {
    ExchangeService svc = service.get();
    return (token, afterFreshToken) -> {
      try {
        createItem(svc, token, mailbox, mime, bcc);
        return Outcome.success();
      } catch (Exception e) {
        Map<String, String> headers = svc.getHttpResponseHeaders();
        if (!afterFreshToken && EwsOutcomes.tokenRejected(e, headers)) {
          return null;
        }
        return EwsOutcomes.classify(e, headers, afterFreshToken);
      }
    };
  }

  private Attempt streamed(String mailbox, SpooledMime mime) {
    EwsCreateItem request = new EwsCreateItem(mailbox, ews.disposition(), mime, mime.bcc());
    return (token, afterFreshToken) -> {
      EwsStreamingClient.Reply reply;
      try {
        reply = streaming.post(token, mailbox, request);
      } catch (IOException e) {
        return EwsOutcomes.classify(e, null, afterFreshToken);
      }
      if (!afterFreshToken && EwsOutcomes.tokenRejected(reply.status(), reply.headers())) {
        return null;
      }
      return EwsOutcomes.fromReply(reply.status(), reply.headers(), reply.reply(), afterFreshToken);
    };
  }

  private Outcome withTokenRetry(Submission s, Attempt attempt) {
    String token;
    try {
      token = token();
    } catch (TokenException e) {
      return e.toOutcome();
    }
    Outcome first = attempt.send(token, false);
    if (first != null) {
      return log(s, first);
    }
    // 401 invalid_token: the request was not processed, so retrying cannot send twice
    tokens.invalidate(token);
    try {
      token = token();
    } catch (TokenException e) {
      return log(s, e.toOutcome());
    }
    return log(s, attempt.send(token, true));
  }

  private Outcome log(Submission s, Outcome o) {
    LOG.debug("{} as {}: {}", s.envelope().id(), s.mailbox(), o);
    return o;
  }

  private String token() throws TokenException {
    try {
      return tokens.token().get(ews.timeout().toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      Throwable cause = TokenCache.unwrap(e);
      if (cause instanceof TokenException t) {
        throw t;
      }
      throw new TokenException("token request failed: " + cause, null, null, 0, Outcome.Kind.TRANSIENT, null, cause);
    } catch (TimeoutException e) {
      throw new TokenException("no token within ews.timeout", null, "timeout", 0, Outcome.Kind.TRANSIENT, null, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new TokenException("interrupted", null, "interrupted", 0, Outcome.Kind.TRANSIENT, null, e);
    }
  }

  private void createItem(ExchangeService svc, String token, String mailbox, byte[] mime, List<String> bcc)
      throws Exception {
    // set on every call: the service is reused for other mailboxes and tokens (libraries.md §4)
    svc.getHttpHeaders().put("Authorization", "Bearer " + token);
    svc.getHttpHeaders().put("X-AnchorMailbox", mailbox); // Microsoft: always with impersonation (§2.1)
    svc.setImpersonatedUserId(new ImpersonatedUserId(ConnectingIdType.SmtpAddress, mailbox));
    svc.getHttpResponseHeaders().clear();
    EmailMessage msg = new EmailMessage(svc);
    msg.setMimeContent(new MimeContent("UTF-8", mime));
    for (String r : bcc) {
      msg.getBccRecipients().add(r);
    }
    if (ews.disposition() == Settings.Disposition.SEND_AND_SAVE_COPY) {
      msg.sendAndSaveCopy(); // CreateItem SendAndSaveCopy + SavedItemFolderId sentitems
    } else {
      msg.send(); // CreateItem SendOnly
    }
  }

  @Override
  public void close() {
    closed = true;
    workers.close();
    ExchangeService svc;
    while ((svc = services.poll()) != null) {
      try {
        svc.close();
      } catch (RuntimeException e) {
        LOG.debug("closing an ExchangeService failed", e);
      }
    }
    try {
      streaming.close();
    } catch (IOException | RuntimeException e) {
      LOG.debug("closing the streaming EWS client failed", e);
    }
  }
}
