package io.relay365.deliver;

import io.relay365.config.Settings;
import io.relay365.tls.TrustStores;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.http.Header;
import org.apache.http.HttpEntity;
import org.apache.http.client.config.RequestConfig;
import org.apache.http.client.methods.CloseableHttpResponse;
import org.apache.http.client.methods.HttpPost;
import org.apache.http.config.RegistryBuilder;
import org.apache.http.conn.socket.ConnectionSocketFactory;
import org.apache.http.conn.ssl.SSLConnectionSocketFactory;
import org.apache.http.entity.AbstractHttpEntity;
import org.apache.http.impl.client.CloseableHttpClient;
import org.apache.http.impl.client.HttpClients;
import org.apache.http.impl.conn.PoolingHttpClientConnectionManager;
import org.apache.http.util.EntityUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers through EWS CreateItem with the raw MIME, impersonating the sending mailbox with an app-only
 * token (microsoft-wire.md §2). The request is written as a stream ({@link EwsCreateItem}): the base64 of
 * the message is encoded while it is read from the spool (the body straight from the file for large
 * messages, {@link SpooledMime}), so heap use no longer grows with the message, and no message has to wait
 * for another's memory. It is the request ews-java-api sends, without its in-memory copies (five to seven
 * times the message, libraries.md §4) and its character-by-character XML writer. Calls are blocking and run
 * on a bounded shared worker pool named "ews" (threads "ews-N"), never on an event loop; the workers share
 * one pool of keep-alive HTTPS connections that only speaks https, with our trust decision (system CAs +
 * microsoft.ca-file) and hostname verification.
 *
 * <p>Per attempt: token from {@link TokenCache}; Authorization and X-AnchorMailbox headers and the
 * impersonation header for the mailbox; Bcc: stripped from the MIME and envelope-only recipients sent as
 * BccRecipients (§2.8); one retry with a fresh token after a 401 invalid_token. Every result, failures
 * included, completes the future with an {@link Outcome} classified by {@link EwsOutcomes}.
 */
public final class EwsTransport implements Transport {
  private static final Logger LOG = LoggerFactory.getLogger(EwsTransport.class);

  /** Name of the shared worker pool; its threads are called "ews-0", "ews-1", … */
  public static final String POOL = "ews";
  /** Largest reply body read (EWS replies to CreateItem are a few KB). */
  private static final int MAX_REPLY = 1024 * 1024;

  private final Settings.Ews ews;
  private final TokenCache tokens;
  private final URI url;
  private final WorkerExecutor workers;
  private final CloseableHttpClient http;
  private volatile boolean closed;

  public EwsTransport(Vertx vertx, Settings.Ews ews, TokenCache tokens, Path caFile)
      throws IOException, GeneralSecurityException {
    WireLogs.capSecretBearingLoggers();
    this.ews = ews;
    this.tokens = tokens;
    this.url = URI.create(ews.url());
    // Only https is registered: a bearer token never travels in clear (as in StrictTlsExchangeService).
    PoolingHttpClientConnectionManager connections = new PoolingHttpClientConnectionManager(
        RegistryBuilder.<ConnectionSocketFactory>create()
            .register("https", new SSLConnectionSocketFactory(TrustStores.clientContext(caFile))).build());
    connections.setMaxTotal(ews.workers());
    connections.setDefaultMaxPerRoute(ews.workers());
    connections.setValidateAfterInactivity(2000); // a connection idle for 2 s is checked before reuse
    int timeout = (int) Math.min(Integer.MAX_VALUE, ews.timeout().toMillis());
    this.http = HttpClients.custom()
        .setConnectionManager(connections)
        .setDefaultRequestConfig(RequestConfig.custom().setConnectTimeout(timeout).setSocketTimeout(timeout)
            .setConnectionRequestTimeout(timeout).setExpectContinueEnabled(false).build())
        .disableCookieManagement()
        .disableRedirectHandling()
        // never resend on its own: a resent CreateItem may be a second copy; the queue decides (ambiguous)
        .disableAutomaticRetries()
        .setUserAgent("relay365")
        .build();
    // an attempt may wait for a token, then run twice (401 retry): warn only beyond that
    long maxExecuteMs = ews.timeout().toMillis() * 3 + 10_000;
    this.workers = vertx.createSharedWorkerExecutor(POOL, ews.workers(), maxExecuteMs, TimeUnit.MILLISECONDS);
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
    long bodyStart;
    try {
      bodyStart = SpooledMime.streamableBodyStart(s.message(), size);
    } catch (IOException e) {
      return Outcome.transientFailure("spool", "cannot read the spooled message: " + e.getMessage(), null);
    }
    // Only a message cleaned in memory holds heap in proportion to its size (the original and the
    // repaired copy); a streamed one needs a few buffers.
    boolean inMemory = bodyStart < 0;
    try (MemoryBudget.Reservation r = memory.reserve(inMemory ? size * MemoryBudget.IN_MEMORY_FACTOR : 1,
        ews.timeout().toMillis())) {
      if (r == null) {
        return Outcome.transientFailure("memory",
            "waiting for heap: other large messages are being sent (raise -Xmx for more in parallel)", null);
      }
      SpooledMime mime;
      try {
        mime = inMemory ? SpooledMime.inMemory(s.message(), s.envelope().recipients(), hygiene)
            : SpooledMime.streamed(s.message(), size, bodyStart, s.envelope().recipients(), hygiene);
      } catch (NoSuchFileException e) {
        return Outcome.permanent("spool", "the spooled message file is missing: " + s.message());
      } catch (IOException e) {
        return Outcome.transientFailure("spool", "cannot read the spooled message: " + e.getMessage(), null);
      }
      return deliver(s, mime);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Outcome.transientFailure("interrupted", "the relay is stopping", null);
    }
  }

  private Outcome deliver(Submission s, SpooledMime mime) {
    EwsCreateItem request = new EwsCreateItem(s.mailbox(), ews.disposition(), mime, mime.bcc());
    String token;
    try {
      token = token();
    } catch (TokenException e) {
      return e.toOutcome();
    }
    Reply first;
    try {
      first = post(token, s.mailbox(), request);
    } catch (IOException e) {
      return log(s, EwsOutcomes.classify(e, null, false));
    }
    if (!EwsOutcomes.tokenRejected(first.status, first.headers)) {
      return log(s, EwsOutcomes.fromReply(first.status, first.headers, first.reply, false));
    }
    // 401 invalid_token: the request was not processed, so retrying cannot send twice
    tokens.invalidate(token);
    try {
      token = token();
    } catch (TokenException e) {
      return log(s, e.toOutcome());
    }
    try {
      Reply second = post(token, s.mailbox(), request);
      return log(s, EwsOutcomes.fromReply(second.status, second.headers, second.reply, true));
    } catch (IOException e) {
      return log(s, EwsOutcomes.classify(e, null, true));
    }
  }

  private record Reply(int status, Map<String, String> headers, EwsReply reply) {}

  private Reply post(String token, String mailbox, EwsCreateItem request) throws IOException {
    HttpPost post = new HttpPost(url);
    post.setHeader("Content-Type", "text/xml; charset=utf-8");
    post.setHeader("Accept", "text/xml");
    post.setHeader("Authorization", "Bearer " + token);
    post.setHeader("X-AnchorMailbox", mailbox); // Microsoft: always with impersonation (§2.1)
    post.setEntity(new AbstractHttpEntity() {
      @Override
      public boolean isRepeatable() {
        return true;
      }

      @Override
      public long getContentLength() {
        return request.length();
      }

      @Override
      public InputStream getContent() {
        throw new UnsupportedOperationException("written with writeTo");
      }

      @Override
      public void writeTo(OutputStream out) throws IOException {
        request.writeTo(out);
      }

      @Override
      public boolean isStreaming() {
        return false;
      }
    });
    try (CloseableHttpResponse response = http.execute(post)) {
      Map<String, String> headers = new HashMap<>();
      for (Header h : response.getAllHeaders()) {
        headers.putIfAbsent(h.getName(), h.getValue());
      }
      byte[] body = new byte[0];
      HttpEntity entity = response.getEntity();
      if (entity != null) {
        try (InputStream in = entity.getContent()) {
          body = in.readNBytes(MAX_REPLY);
        }
        EntityUtils.consumeQuietly(entity); // the rest, if any, so the connection can be reused
      }
      return new Reply(response.getStatusLine().getStatusCode(), headers, EwsReply.parse(body));
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

  @Override
  public void close() {
    closed = true;
    workers.close();
    try {
      http.close();
    } catch (IOException | RuntimeException e) {
      LOG.debug("closing the EWS HTTP client failed", e);
    }
  }
}
