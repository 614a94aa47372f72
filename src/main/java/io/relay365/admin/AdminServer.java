package io.relay365.admin;

import io.relay365.config.Settings;
import io.relay365.deliver.TokenCache;
import io.relay365.deliver.TokenException;
import io.relay365.store.Envelope;
import io.relay365.store.Spool;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin HTTP listener (admin.listen, loopback by default):
 * <pre>
 *   GET /health/live          200 while the process serves HTTP
 *   GET /health/ready         200 if the spool is writable, a token can be had and no alert is raised; else 503
 *   GET /metrics              Prometheus text format                       (token if admin.token is set)
 *   GET /status               read-only HTML page for people               (token if admin.token is set)
 *   GET /api/messages/{id}    one queue id's state, JSON (send-test polls it) (token if admin.token is set)
 * </pre>
 * Health stays open so that probes need no secret; it tells only up or down and why.
 */
public final class AdminServer {
  private static final Logger log = LoggerFactory.getLogger(AdminServer.class);
  static final long TOKEN_CHECK_MS = 5_000;

  private final Vertx vertx;
  private final Settings.Admin settings;
  private final Spool spool;
  private final TokenCache tokens;
  private final StatusBoard board;
  private final Metrics metrics;
  private final Clock clock;
  private final Instant started;
  private final byte[] token;
  private HttpServer server;

  public AdminServer(Vertx vertx, Settings.Admin settings, Spool spool, TokenCache tokens, StatusBoard board,
      Metrics metrics, Clock clock) {
    this.vertx = vertx;
    this.settings = settings;
    this.spool = spool;
    this.tokens = tokens;
    this.board = board;
    this.metrics = metrics;
    this.clock = clock;
    this.started = clock.instant();
    this.token = settings.token() == null ? null : settings.token().reveal().getBytes(StandardCharsets.UTF_8);
  }

  public Future<AdminServer> start() {
    Router r = Router.router(vertx);
    r.get("/health/live").handler(ctx -> json(ctx, 200, new JsonObject().put("status", "UP")));
    r.get("/health/ready").handler(this::ready);
    r.route("/metrics").handler(this::authorize);
    r.get("/metrics").handler(this::metrics);
    r.route("/status").handler(this::authorize);
    r.get("/status").handler(this::status);
    r.get("/").handler(ctx -> ctx.redirect("/status"));
    r.route("/api/*").handler(this::authorize);
    r.get("/api/messages/:id").handler(this::message);
    return vertx.createHttpServer().requestHandler(r).listen(settings.listenPort(), settings.listenHost())
        .map(s -> {
          server = s;
          log.info("admin listener on http://{}:{}/ (/status, /metrics, /health/ready){}", hostForUrl(),
              s.actualPort(), token == null ? "" : "; bearer token required");
          return this;
        });
  }

  public int port() {
    return server == null ? -1 : server.actualPort();
  }

  public Future<Void> stop() {
    return server == null ? Future.succeededFuture() : server.close();
  }

  private String hostForUrl() {
    return settings.listenHost().contains(":") ? "[" + settings.listenHost() + "]" : settings.listenHost();
  }

  // ---- access ----------------------------------------------------------------------------------

  private void authorize(RoutingContext ctx) {
    if (token == null) {
      ctx.next();
      return;
    }
    String h = ctx.request().getHeader("Authorization");
    byte[] given = h != null && h.regionMatches(true, 0, "Bearer ", 0, 7)
        ? h.substring(7).strip().getBytes(StandardCharsets.UTF_8) : new byte[0];
    if (MessageDigest.isEqual(given, token)) { // constant time
      ctx.next();
      return;
    }
    ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"relay365\"");
    json(ctx, 401, new JsonObject().put("error", "a bearer token is required (admin.token)"));
  }

  // ---- health ----------------------------------------------------------------------------------

  /** Readiness: the three things without which mail only piles up. */
  public Future<JsonObject> readiness() {
    Future<String> spoolCheck = vertx.executeBlocking(() -> {
      Path probe = spool.dir().resolve(".ready-probe");
      Files.write(probe, new byte[] {1});
      Files.delete(probe);
      return null;
    }, false).map(v -> (String) null).otherwise(e -> "the spool " + spool.dir() + " is not writable: " + e);
    Future<String> tokenCheck = tokenState().map(t -> t.ok() ? null : t.problem());
    return Future.join(spoolCheck, tokenCheck).transform(ar -> {
      String sp = spoolCheck.result();
      String tk = tokenCheck.result();
      List<StatusBoard.Alert> alerts = board.alerts();
      String al = alerts.isEmpty() ? null : alerts.size() + " alert(s): " + alerts.get(0).key() + ": "
          + alerts.get(0).text();
      JsonArray checks = new JsonArray()
          .add(check("spool", sp))
          .add(check("token", tk))
          .add(check("transport", al));
      boolean up = sp == null && tk == null && al == null;
      return Future.succeededFuture(new JsonObject().put("status", up ? "UP" : "DOWN").put("checks", checks));
    });
  }

  private static JsonObject check(String id, String problem) {
    JsonObject c = new JsonObject().put("id", id).put("status", problem == null ? "UP" : "DOWN");
    return problem == null ? c : c.put("reason", problem);
  }

  private void ready(RoutingContext ctx) {
    readiness().onComplete(ar -> {
      JsonObject body = ar.result();
      json(ctx, "UP".equals(body.getString("status")) ? 200 : 503, body);
    });
  }

  /** Whether a token can be had now (from the cache if valid; never the token itself). */
  public Future<TokenState> tokenState() {
    return Future.fromCompletionStage(tokens.token().orTimeout(TOKEN_CHECK_MS, TimeUnit.MILLISECONDS))
        .map(t -> new TokenState(true, null, clock.instant()))
        .otherwise(e -> new TokenState(false, describe(e), clock.instant()));
  }

  static String describe(Throwable e) {
    Throwable c = e;
    while ((c instanceof CompletionException || c instanceof ExecutionException) && c.getCause() != null) {
      c = c.getCause();
    }
    if (c instanceof TokenException t) {
      return t.code() + ": " + t.getMessage() + (t.hint() == null ? "" : "; " + t.hint());
    }
    if (c instanceof TimeoutException) {
      return "no token within " + TOKEN_CHECK_MS / 1000 + " s (the token endpoint is slow or unreachable)";
    }
    return c.getClass().getSimpleName();
  }

  // ---- metrics, status, API ----------------------------------------------------------------------

  private void metrics(RoutingContext ctx) {
    vertx.executeBlocking(metrics::scrape, false).onComplete(ar -> {
      if (ar.failed()) {
        ctx.fail(ar.cause());
        return;
      }
      ctx.response().putHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8").end(ar.result());
    });
  }

  private void status(RoutingContext ctx) {
    Future<List<Envelope>> queue = vertx.executeBlocking(spool::queued, false);
    Future<TokenState> tokenState = tokenState();
    Future.join(queue, tokenState).onComplete(ar -> {
      StatusPage.View v = new StatusPage.View(clock.instant(), started,
          queue.succeeded() ? queue.result() : List.of(), board.recentDeliveries(), board.lastErrors(),
          board.alerts(), tokenState.result(), tokens.fetches(), tokens.failures());
      ctx.response().putHeader("Content-Type", "text/html; charset=utf-8")
          .putHeader("Cache-Control", "no-store")
          .putHeader("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
          .end(StatusPage.render(v));
    });
  }

  private void message(RoutingContext ctx) {
    String id = ctx.pathParam("id");
    if (id == null || !id.matches("[0-9A-Za-z][0-9A-Za-z_-]{0,63}")) {
      json(ctx, 400, new JsonObject().put("error", "not a queue id"));
      return;
    }
    Optional<StatusBoard.MessageState> known = board.message(id);
    if (known.isPresent() && !known.get().status().equals("accepted")) {
      json(ctx, 200, toJson(known.get()));
      return;
    }
    vertx.executeBlocking(() -> spool.read(id), false).onComplete(ar -> {
      if (ar.succeeded() && ar.result().isPresent()) {
        Envelope e = ar.result().get();
        JsonObject j = new JsonObject().put("id", id).put("status", e.attempts() == 0 ? "queued" : "deferred")
            .put("attempts", e.attempts()).put("arrived", e.arrived().toString());
        if (e.lastError() != null) {
          // the envelope is rewritten before the deferral event reaches the board, so a poll in between
          // must still carry the code: QueueRunner writes lastError as "CODE: detail"
          int colon = e.lastError().indexOf(": ");
          if (colon > 0) {
            j.put("code", e.lastError().substring(0, colon)).put("detail", e.lastError().substring(colon + 2));
          } else {
            j.put("detail", e.lastError());
          }
        }
        if (e.nextAttempt() != null) {
          j.put("nextAttempt", e.nextAttempt().toString());
        }
        json(ctx, 200, j);
      } else if (known.isPresent()) {
        json(ctx, 200, toJson(known.get()));
      } else {
        json(ctx, 404, new JsonObject().put("id", id).put("status", "unknown")
            .put("error", "no such queue id in the spool or among the last " + StatusBoard.TRACKED_IDS + " messages"));
      }
    });
  }

  private static JsonObject toJson(StatusBoard.MessageState s) {
    JsonObject j = new JsonObject().put("id", s.id()).put("status", s.status()).put("at", s.at().toString())
        .put("attempts", s.attempts());
    if (s.mailbox() != null) {
      j.put("mailbox", s.mailbox());
    }
    if (s.code() != null) {
      j.put("code", s.code());
    }
    if (s.detail() != null) {
      j.put("detail", s.detail());
    }
    return j;
  }

  private static void json(RoutingContext ctx, int status, JsonObject body) {
    ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json; charset=utf-8")
        .putHeader("Cache-Control", "no-store").end(body.encodePrettily());
  }
}
