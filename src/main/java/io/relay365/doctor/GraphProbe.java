package io.relay365.doctor;

import io.relay365.config.Settings;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import javax.net.ssl.SSLContext;

/**
 * Harmless Microsoft Graph calls for the doctor, over the JDK's HTTP client with the doctor's TLS
 * context (system CAs plus microsoft.ca-file; hostname verification on). Nothing here can send or change
 * anything in a mailbox.
 */
final class GraphProbe implements AutoCloseable {

  /** What came back: the HTTP status and Graph's error code and message, or a local failure (status 0). */
  record Result(int status, String code, String message, Throwable error) {}

  /**
   * The body of the per-mailbox probe: not base64 (it has spaces, ':' and '!'), so Graph cannot decode a
   * message from it, let alone send one.
   */
  static final String NOT_A_MESSAGE = "relay365 doctor: this probe is not base64, so nothing can be sent!";

  private final Settings.Graph graph;
  private final HttpClient http;

  GraphProbe(Settings.Graph graph, SSLContext tls) {
    this.graph = graph;
    this.http = HttpClient.newBuilder().sslContext(tls).connectTimeout(Duration.ofSeconds(15))
        .followRedirects(HttpClient.Redirect.NEVER).build();
  }

  /** {@code GET /v1.0/organization?$select=id}: whether Graph accepts the token at all. */
  Result organization(String token) {
    return send(token, HttpRequest.newBuilder(URI.create(graph.url() + "/v1.0/organization?$select=id")).GET());
  }

  /**
   * {@code POST /v1.0/users/{mailbox}/sendMail} with a body that is not base64: Graph checks the caller's
   * right to the mailbox first, then fails to decode the body (400) and sends nothing.
   */
  Result sendMail(String token, String mailbox) {
    return send(token, HttpRequest.newBuilder(URI.create(user(mailbox) + "/sendMail"))
        .header("Content-Type", "text/plain")
        .POST(HttpRequest.BodyPublishers.ofString(NOT_A_MESSAGE, StandardCharsets.US_ASCII)));
  }

  /** {@code GET /v1.0/users/{mailbox}/mailFolders/drafts?$select=id}: whether Mail.ReadWrite reaches it. */
  Result drafts(String token, String mailbox) {
    return send(token, HttpRequest.newBuilder(URI.create(user(mailbox) + "/mailFolders/drafts?$select=id")).GET());
  }

  private String user(String mailbox) {
    return graph.url() + "/v1.0/" + io.relay365.deliver.GraphTransport.userSegment(mailbox);
  }

  private Result send(String token, HttpRequest.Builder b) {
    HttpRequest req = b.timeout(graph.timeout().compareTo(Duration.ofSeconds(60)) > 0 ? Duration.ofSeconds(60)
        : graph.timeout()).header("Authorization", "Bearer " + token).build();
    try {
      HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
      String code = null;
      String message = null;
      try {
        JsonObject e = new JsonObject(r.body()).getJsonObject("error");
        if (e != null) {
          code = e.getValue("code") instanceof String c ? c : null;
          message = e.getValue("message") instanceof String m ? m : null;
        }
      } catch (RuntimeException notJson) {
        // no Graph error body: the status says it all
      }
      return new Result(r.statusCode(), code, message, null);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result(0, null, null, e);
    } catch (Exception e) {
      return new Result(0, null, null, e);
    }
  }

  @Override
  public void close() {
    // the JDK client frees its connections when it is collected (close() exists only from Java 21)
  }
}
