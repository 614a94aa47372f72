package io.relay365.deliver;

import io.relay365.config.Settings;
import io.relay365.deliver.GraphOutcomes.Step;
import io.relay365.tls.TrustStores;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.TrustOptions;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers through Microsoft Graph with the raw MIME (microsoft-wire.md §3), non-blocking on
 * vertx-web-client; only reading the spooled file runs on worker threads.
 *
 * <ul>
 *   <li>A message whose request fits graph.max-request-size (~4 MB): {@code POST
 *       {graph.url}/v1.0/users/{mailbox}/sendMail}, body the base64 MIME, {@code Content-Type:
 *       text/plain}; 202 is delivered.
 *   <li>A larger one, or one sendMail refuses with 413: a draft from the MIME without its big
 *       attachments ({@code POST …/messages}, base64 MIME → 201 with the id), each attachment added
 *       ({@code POST …/attachments} below 3 MB, else {@code …/attachments/createUploadSession} and
 *       {@code PUT} chunks of at most 4 MB to the pre-authenticated upload URL, with no Authorization),
 *       then {@code POST …/messages/{id}/send} → 202. Attachment bytes are streamed from the spooled file.
 *       If any step fails the draft is deleted (best effort), so no drafts pile up.
 * </ul>
 *
 * Per attempt: tokens from the shared {@link TokenCache} (one for all messages); envelope-only
 * recipients in a Bcc: header ({@link GraphMessage}); {@link MimeHygiene} as for EWS; one retry with a
 * fresh token after a 401. Every result is classified by {@link GraphOutcomes}, and the future always
 * succeeds with an {@link Outcome}. Bearer tokens and upload URLs (which carry a token) are never logged.
 */
public final class GraphTransport implements Transport {
  private static final Logger LOG = LoggerFactory.getLogger(GraphTransport.class);

  /**
   * Upload chunk: 12 × 320 KiB = 3.75 MiB, below the 4 MB limit per chunk (§3), and a multiple of 320 KiB,
   * which OneDrive's upload sessions require and Outlook's accept.
   */
  static final int CHUNK = 12 * 320 * 1024;

  /** Below this an attachment goes in one JSON request (§3: "below 3 MB"; GUESS: decimal megabytes). */
  static final long SMALL_ATTACHMENT = 3_000_000L;

  private final Vertx vertx;
  private final Settings.Graph graph;
  private final TokenCache tokens;
  private final WebClient client;
  private final MimeHygiene hygiene = new MimeHygiene(java.nio.charset.Charset.forName("windows-1252"));
  private volatile boolean closed;

  public GraphTransport(Vertx vertx, Settings.Graph graph, TokenCache tokens, Path caFile)
      throws IOException, GeneralSecurityException {
    this.vertx = vertx;
    this.graph = graph;
    this.tokens = tokens;
    int connectMs = (int) Math.min(graph.timeout().toMillis(), 30_000);
    // System CAs plus microsoft.ca-file, hostname verification on (Vert.x verifies the host by default;
    // set explicitly so that nobody turns it off by accident).
    WebClientOptions options = new WebClientOptions()
        .setTrustOptions(TrustOptions.wrap(TrustStores.trustManager(caFile)))
        .setVerifyHost(true)
        .setConnectTimeout(connectMs)
        .setIdleTimeout(60)
        .setUserAgent("relay365")
        .setFollowRedirects(false);
    this.client = WebClient.create(vertx, options, new PoolOptions().setHttp1MaxSize(32));
  }

  /** One delivery attempt's state. */
  private static final class Attempt {
    final Submission s;
    Step step = Step.SEND_MAIL;
    boolean freshToken;     // a 401 already made us fetch a new token
    String draftId;         // set while a draft exists that must not be left behind
    String path = "sendMail";
    long maxRequest;        // graph.max-request-size, or less once Graph refused a request as too large

    Attempt(Submission s, long maxRequest) {
      this.s = s;
      this.maxRequest = maxRequest;
    }
  }

  /** Stops an attempt with an outcome already classified. */
  private static final class Stop extends RuntimeException {
    final transient Outcome outcome;

    Stop(Outcome outcome) {
      super(null, null, false, false);
      this.outcome = outcome;
    }
  }

  @Override
  public Future<Outcome> send(Submission submission) {
    if (closed) {
      return Future.succeededFuture(Outcome.transientFailure("closed", "the Graph transport is shutting down", null));
    }
    Attempt a = new Attempt(submission, graph.maxRequestSize());
    Future<Outcome> result;
    try {
      result = spool(() -> GraphMessage.whole(submission.message(), submission.envelope().recipients(), hygiene,
          graph.maxRequestSize()))
          .compose(whole -> whole != null ? sendMail(a, whole) : large(a));
    } catch (RuntimeException e) {
      result = Future.failedFuture(e);
    }
    return result
        .recover(e -> Future.succeededFuture(classify(a, e)))
        .compose(o -> a.draftId == null || o.isDelivered() ? Future.succeededFuture(o)
            : deleteDraft(a).map(v -> o))
        .map(o -> log(a, o));
  }

  private Outcome classify(Attempt a, Throwable e) {
    if (e instanceof Stop stop) {
      return stop.outcome;
    }
    if (e instanceof SpoolFailure f) {
      return f.getCause() instanceof NoSuchFileException
          ? Outcome.permanent("spool", "the spooled message file is missing: " + a.s.message())
          : Outcome.transientFailure("spool", "cannot read the spooled message: " + f.getCause().getMessage(), null);
    }
    if (e instanceof GraphMessage.TooLarge t) {
      return GraphOutcomes.cannotSplit(t.getMessage());
    }
    return GraphOutcomes.fromFailure(a.step, e);
  }

  /** Reading the spooled file failed: a spool problem, never to be mistaken for a network one. */
  private static final class SpoolFailure extends RuntimeException {
    SpoolFailure(IOException cause) {
      super(cause.getMessage(), cause, false, false);
    }
  }

  /** Worker-thread work on the spooled file; its IOExceptions become {@link SpoolFailure}s. */
  private <T> Future<T> spool(Callable<T> work) {
    return blocking(() -> {
      try {
        return work.call();
      } catch (IOException e) {
        throw new SpoolFailure(e);
      }
    });
  }

  private Outcome log(Attempt a, Outcome o) {
    LOG.debug("{} as {} via {}: {}", a.s.envelope().id(), a.s.mailbox(), a.path, o);
    return o;
  }

  // ---- sendMail -----------------------------------------------------------------------------------

  private Future<Outcome> sendMail(Attempt a, byte[] base64) {
    a.step = Step.SEND_MAIL;
    return request(a, HttpMethod.POST, user(a) + "/sendMail", "text/plain", base64).compose(r -> {
      if (GraphOutcomes.needsLargePath(Step.SEND_MAIL, r.statusCode(), r.bodyAsString())) {
        // Graph's limit is below graph.max-request-size: aim the draft's requests at Microsoft's documented
        // "about 4 MB", and well under what it refused
        a.maxRequest = Math.min(Math.min(a.maxRequest, Settings.Graph.DEFAULT_MAX_REQUEST_SIZE),
            base64.length * 3L / 4);
        LOG.info("{}: Graph refused sendMail of {} bytes as too large (HTTP 413); sending it as a draft with"
            + " uploads, requests up to {} bytes", a.s.envelope().id(), base64.length, a.maxRequest);
        return large(a);
      }
      return Future.succeededFuture(answer(a, r));
    });
  }

  // ---- the large-message path ---------------------------------------------------------------------

  private Future<Outcome> large(Attempt a) {
    a.path = "draft+upload";
    return spool(() -> GraphMessage.draft(a.s.message(), a.s.envelope().recipients(), hygiene, a.maxRequest))
        .compose(d -> createDraft(a, d).compose(v -> attachAll(a, d.attachments(), 0)))
        .compose(v -> {
          a.step = Step.SEND_DRAFT;
          return request(a, HttpMethod.POST, user(a) + "/messages/" + pct(a.draftId) + "/send", null, new byte[0]);
        })
        .map(r -> {
          Outcome o = answer(a, r);
          if (o.isDelivered()) {
            a.draftId = null; // sent: it left Drafts for Sent Items
          }
          return o;
        });
  }

  private Future<Void> createDraft(Attempt a, GraphMessage.Draft d) {
    a.step = Step.CREATE_DRAFT;
    return request(a, HttpMethod.POST, user(a) + "/messages", "text/plain", d.base64()).map(r -> {
      expect(a, r, 201);
      String id = json(r).getString("id");
      if (id == null || id.isBlank()) {
        throw new Stop(Outcome.transientFailure("HTTP " + r.statusCode(), "Graph created a draft but sent no id", null));
      }
      a.draftId = id;
      return null;
    });
  }

  private Future<Void> attachAll(Attempt a, List<GraphMessage.Attachment> atts, int i) {
    if (i >= atts.size()) {
      return Future.succeededFuture();
    }
    GraphMessage.Attachment att = atts.get(i);
    // Microsoft's rule (§3): below 3 MB one POST, from 3 MB an upload session (which refuses smaller files)
    Future<Void> one = att.size() < SMALL_ATTACHMENT ? attachSmall(a, att) : upload(a, att);
    return one.compose(v -> attachAll(a, atts, i + 1));
  }

  /** {@code POST …/attachments} with a fileAttachment (§3, below 3 MB). */
  private Future<Void> attachSmall(Attempt a, GraphMessage.Attachment att) {
    a.step = Step.ADD_ATTACHMENT;
    return spool(() -> {
      byte[] bytes;
      try (InputStream in = att.open(a.s.message())) {
        bytes = in.readAllBytes();
      }
      JsonObject j = item(att).put("@odata.type", "#microsoft.graph.fileAttachment")
          .put("contentBytes", Base64.getEncoder().encodeToString(bytes));
      return j.encode().getBytes(StandardCharsets.UTF_8);
    }).compose(body -> request(a, HttpMethod.POST, attachments(a), "application/json", body))
        .map(r -> {
          expect(a, r, 201);
          return null;
        });
  }

  private static JsonObject item(GraphMessage.Attachment att) {
    JsonObject j = new JsonObject().put("name", att.name()).put("contentType", att.contentType())
        .put("isInline", att.inline());
    if (att.contentId() != null) {
      j.put("contentId", att.contentId());
    }
    return j;
  }

  /** An upload session, then the bytes in chunks to its pre-authenticated URL (§3, 3–150 MB). */
  private Future<Void> upload(Attempt a, GraphMessage.Attachment att) {
    a.step = Step.CREATE_UPLOAD_SESSION;
    JsonObject session = new JsonObject().put("AttachmentItem", item(att).put("attachmentType", "file")
        .put("size", att.size()));
    return request(a, HttpMethod.POST, attachments(a) + "/createUploadSession", "application/json",
        session.encode().getBytes(StandardCharsets.UTF_8))
        .compose(r -> {
          expect(a, r, 201);
          String url = json(r).getString("uploadUrl");
          if (url == null || !url.startsWith("https://")) {
            throw new Stop(Outcome.transientFailure("HTTP " + r.statusCode(),
                "Graph created an upload session without an https uploadUrl", null));
          }
          a.step = Step.UPLOAD;
          return spool(() -> att.open(a.s.message()))
              .compose(in -> chunks(a, url, att.size(), in, 0).eventually(() -> blocking(() -> {
                in.close();
                return null;
              })));
        });
  }

  private Future<Void> chunks(Attempt a, String url, long total, InputStream in, long offset) {
    return spool(() -> readChunk(in, (int) Math.min(CHUNK, total - offset))).compose(bytes -> {
      if (bytes.length == 0 && offset < total) {
        throw new Stop(Outcome.transientFailure("spool", "the attachment in the spooled file is shorter than"
            + " announced", null));
      }
      long end = offset + bytes.length - 1;
      // The upload URL carries its own token: no Authorization header (§3); it must never see the bearer.
      HttpRequest<Buffer> req = client.requestAbs(HttpMethod.PUT, url).timeout(graph.timeout().toMillis())
          .putHeader("Content-Type", "application/octet-stream")
          .putHeader("Content-Range", "bytes " + offset + "-" + end + "/" + total);
      return req.sendBuffer(Buffer.buffer(bytes)).compose(r -> {
        if (r.statusCode() != 200 && r.statusCode() != 201) {
          throw new Stop(GraphOutcomes.fromResponse(Step.UPLOAD, r.statusCode(), r.getHeader("Retry-After"),
              r.bodyAsString(), true));
        }
        return end + 1 >= total ? Future.<Void>succeededFuture() : chunks(a, url, total, in, end + 1);
      });
    });
  }

  private static byte[] readChunk(InputStream in, int n) throws IOException {
    return in.readNBytes(n);
  }

  /** Best effort: a draft of a failed attempt is deleted so that drafts do not pile up in the mailbox. */
  private Future<Void> deleteDraft(Attempt a) {
    String id = a.draftId;
    a.draftId = null;
    return request(a, HttpMethod.DELETE, user(a) + "/messages/" + pct(id), null, null)
        .<Void>map(r -> {
          if (r.statusCode() != 204 && r.statusCode() != 200 && r.statusCode() != 404) {
            LOG.warn("{}: could not delete the draft of a failed attempt in {} (HTTP {}); delete it by hand if it"
                + " stays in Drafts", a.s.envelope().id(), a.s.mailbox(), r.statusCode());
          }
          return null;
        })
        .otherwise(e -> {
          LOG.warn("{}: could not delete the draft of a failed attempt in {}: {}", a.s.envelope().id(),
              a.s.mailbox(), GraphOutcomes.redact(String.valueOf(e.getMessage())));
          return null;
        });
  }

  // ---- requests -----------------------------------------------------------------------------------

  /** An authorised Graph request; after a 401 it runs once more with a fresh token (§3). */
  private Future<HttpResponse<Buffer>> request(Attempt a, HttpMethod method, String url, String contentType,
      byte[] body) {
    return token().compose(t -> {
      HttpRequest<Buffer> req = client.requestAbs(method, url).timeout(graph.timeout().toMillis())
          .putHeader("Authorization", "Bearer " + t);
      if (contentType != null) {
        req.putHeader("Content-Type", contentType);
      }
      Future<HttpResponse<Buffer>> f = body == null ? req.send() : req.sendBuffer(Buffer.buffer(body));
      return f.compose(r -> {
        if (GraphOutcomes.tokenRejected(r.statusCode()) && !a.freshToken) {
          // 401: the request was not processed, so repeating it cannot send twice
          a.freshToken = true;
          tokens.invalidate(t);
          return request(a, method, url, contentType, body);
        }
        return Future.succeededFuture(r);
      });
    });
  }

  private Future<String> token() {
    return Future.fromCompletionStage(tokens.token(), vertx.getOrCreateContext())
        .timeout(graph.timeout().toMillis(), TimeUnit.MILLISECONDS)
        .recover(e -> Future.failedFuture(tokenFailure(e)));
  }

  private static TokenException tokenFailure(Throwable e) {
    Throwable cause = e;
    while ((cause instanceof CompletionException || cause instanceof ExecutionException) && cause.getCause() != null) {
      cause = cause.getCause();
    }
    if (cause instanceof TokenException t) {
      return t;
    }
    if (cause instanceof TimeoutException) {
      return new TokenException("no token within graph.timeout", null, "timeout", 0, Outcome.Kind.TRANSIENT, null,
          cause);
    }
    return new TokenException("token request failed: " + cause, null, null, 0, Outcome.Kind.TRANSIENT, null, cause);
  }

  /** The outcome of the request that ends the attempt (sendMail or send). */
  private Outcome answer(Attempt a, HttpResponse<Buffer> r) {
    return GraphOutcomes.fromResponse(a.step, r.statusCode(), r.getHeader("Retry-After"), r.bodyAsString(),
        a.freshToken);
  }

  /** A step of the large path must answer {@code status} (or another 2xx); anything else ends the attempt. */
  private static void expect(Attempt a, HttpResponse<Buffer> r, int status) {
    if (r.statusCode() != status && (r.statusCode() < 200 || r.statusCode() > 299)) {
      throw new Stop(GraphOutcomes.fromResponse(a.step, r.statusCode(), r.getHeader("Retry-After"),
          r.bodyAsString(), a.freshToken));
    }
  }

  private static JsonObject json(HttpResponse<Buffer> r) {
    try {
      JsonObject j = r.bodyAsJsonObject();
      return j == null ? new JsonObject() : j;
    } catch (RuntimeException e) {
      return new JsonObject();
    }
  }

  private String user(Attempt a) {
    return graph.url() + "/v1.0/" + userSegment(a.s.mailbox());
  }

  private String attachments(Attempt a) {
    return user(a) + "/messages/" + pct(a.draftId) + "/attachments";
  }

  /**
   * "users/{mailbox}" with the address percent-encoded (RFC 3986 §3.3). An id that starts with '$' must
   * be written users('$…') with quotes doubled, or Graph reads it as an OData keyword (GUESS: from
   * Microsoft's note on UPNs that start with '$').
   */
  public static String userSegment(String mailbox) {
    if (mailbox.startsWith("$")) {
      return "users('" + pct(mailbox.replace("'", "''")) + "')";
    }
    return "users/" + pct(mailbox);
  }

  /** Percent-encodes everything but unreserved characters and '@' (RFC 3986 §2.3, §3.3). */
  static String pct(String s) {
    StringBuilder b = new StringBuilder(s.length() + 16);
    for (byte x : s.getBytes(StandardCharsets.UTF_8)) {
      int c = x & 0xff;
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.'
          || c == '_' || c == '~' || c == '@') {
        b.append((char) c);
      } else {
        b.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
            .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
      }
    }
    return b.toString();
  }

  private <T> Future<T> blocking(Callable<T> work) {
    return vertx.executeBlocking(work, false);
  }

  @Override
  public void close() {
    closed = true;
    client.close();
  }
}
