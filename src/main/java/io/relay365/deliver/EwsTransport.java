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
 * <p>Per attempt: token from {@link TokenCache}; Authorization, X-AnchorMailbox and impersonation set
 * before each call; Bcc: stripped from the MIME and envelope-only recipients sent as BccRecipients
 * (§2.8); one retry with a fresh token after a 401 invalid_token. Every result, failures included,
 * completes the future with an {@link Outcome} classified by {@link EwsOutcomes}.
 */
public final class EwsTransport implements Transport {
  private static final Logger LOG = LoggerFactory.getLogger(EwsTransport.class);

  /** Name of the shared worker pool; its threads are called "ews-0", "ews-1", … */
  public static final String POOL = "ews";

  private final Settings.Ews ews;
  private final TokenCache tokens;
  private final URI url;
  private final SSLConnectionSocketFactory tls;
  private final WorkerExecutor workers;
  private final ConcurrentLinkedQueue<ExchangeService> services = new ConcurrentLinkedQueue<>();
  private final ThreadLocal<ExchangeService> service;
  private volatile boolean closed;

  public EwsTransport(Vertx vertx, Settings.Ews ews, TokenCache tokens, Path caFile)
      throws IOException, GeneralSecurityException {
    WireLogs.capSecretBearingLoggers();
    this.ews = ews;
    this.tokens = tokens;
    this.url = URI.create(ews.url());
    this.tls = new SSLConnectionSocketFactory(TrustStores.clientContext(caFile));
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

  /** One attempt, on an ews-* worker thread. Never throws. */
  Outcome deliver(Submission s) {
    long size;
    try {
      size = Files.size(s.message());
    } catch (NoSuchFileException e) {
      return Outcome.permanent("spool", "the spooled message file is missing: " + s.message());
    } catch (IOException e) {
      return Outcome.transientFailure("spool", "cannot read the spooled message: " + e.getMessage(), null);
    }
    try (MemoryBudget.Reservation r = memory.reserve(size * MemoryBudget.EWS_FACTOR, ews.timeout().toMillis())) {
      if (r == null) {
        return Outcome.transientFailure("memory",
            "waiting for heap: other large messages are being sent (raise -Xmx for more in parallel)", null);
      }
      try {
        return deliverWithin(s);
      } finally {
        ((StrictTlsExchangeService) service.get()).forgetLastExchange();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Outcome.transientFailure("interrupted", "the relay is stopping", null);
    }
  }

  private Outcome deliverWithin(Submission s) {
    byte[] original;
    try {
      original = Files.readAllBytes(s.message());
    } catch (NoSuchFileException e) {
      return Outcome.permanent("spool", "the spooled message file is missing: " + s.message());
    } catch (IOException e) {
      return Outcome.transientFailure("spool", "cannot read the spooled message: " + e.getMessage(), null);
    }
    List<String> bcc = HiddenRecipients.of(s.envelope().recipients(), MessageHeaders.parse(original));
    byte[] mime = hygiene.clean(HiddenRecipients.stripBcc(original));
    original = null; // the MIME is copied several times below; do not keep two versions alive

    ExchangeService svc = service.get();
    String token;
    try {
      token = token();
    } catch (TokenException e) {
      return e.toOutcome();
    }
    try {
      createItem(svc, token, s.mailbox(), mime, bcc);
      return Outcome.success();
    } catch (Exception first) {
      Map<String, String> headers = svc.getHttpResponseHeaders();
      if (!EwsOutcomes.tokenRejected(first, headers)) {
        return log(s, EwsOutcomes.classify(first, headers, false));
      }
      // 401 invalid_token: the request was not processed, so retrying cannot send twice
      tokens.invalidate(token);
      try {
        token = token();
      } catch (TokenException e) {
        return log(s, e.toOutcome());
      }
      try {
        createItem(svc, token, s.mailbox(), mime, bcc);
        return Outcome.success();
      } catch (Exception second) {
        return log(s, EwsOutcomes.classify(second, svc.getHttpResponseHeaders(), true));
      }
    }
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
  }
}
