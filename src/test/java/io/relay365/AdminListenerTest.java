package io.relay365;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin listener on a real relay delivering to the sandbox: health, readiness with the alert
 * state, Prometheus metrics after real deliveries and deferrals, the message API and the bearer token.
 */
class AdminListenerTest {
  static final String ADMIN_TOKEN = "t0ken-for-the-admin-listener-0123456789";
  static final String SENDER = "scanner@contoso.example";

  @TempDir
  Path dir;
  RelayHarness h;
  final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void start() throws Exception {
    h = new RelayHarness(dir);
    h.env.put("RELAY365_ADMIN_TOKEN", ADMIN_TOKEN);
    h.startSandbox().startRelay();
  }

  @AfterEach
  void stop() throws Exception {
    h.close();
  }

  HttpResponse<String> get(String path, boolean withToken) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + h.relay.adminPort() + path));
    if (withToken) {
      b.header("Authorization", "Bearer " + ADMIN_TOKEN);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  String send(String subject) throws Exception {
    try (SmtpDialog smtp = new SmtpDialog(h.smtpPort())) {
      smtp.expect("250", "EHLO test.example");
      return smtp.send(SENDER, new String[] {"alice@contoso.example"},
          ("From: " + SENDER + "\r\nTo: alice@contoso.example\r\nSubject: " + subject + "\r\n\r\nhello\r\n")
              .getBytes(StandardCharsets.US_ASCII));
    }
  }

  String status(String id) throws Exception {
    return new JsonObject(get("/api/messages/" + id, true).body()).getString("status");
  }

  @Test
  void deliveredMessageShowsInMetricsAndTheMessageApi() throws Exception {
    assertThat(get("/health/live", false).statusCode()).isEqualTo(200);
    String id = send("metrics");
    await().atMost(Duration.ofSeconds(30)).until(() -> status(id).equals("delivered"));
    JsonObject state = new JsonObject(get("/api/messages/" + id, true).body());
    assertThat(state.getString("mailbox")).isEqualTo(SENDER);

    HttpResponse<String> m = get("/metrics", true);
    assertThat(m.statusCode()).isEqualTo(200);
    assertThat(m.headers().firstValue("Content-Type")).get().asString().startsWith("text/plain");
    String text = m.body();
    assertThat(text).contains("relay365_messages_accepted_total 1.0")
        .contains("relay365_messages_delivered_total 1.0")
        .contains("relay365_queue_messages 0.0")
        .contains("relay365_queue_oldest_age_seconds 0.0")
        .contains("relay365_delivery_latency_seconds_count 1")
        .contains("relay365_delivery_latency_seconds_bucket{le=\"30.0\"} 1")
        .contains("relay365_token_requests_total 1.0")
        .contains("relay365_token_failures_total 0.0")
        .contains("relay365_upstream_responses_total{code=\"NoError\"} 1.0")
        .contains("relay365_alerts_active 0.0");

    HttpResponse<String> ready = get("/health/ready", false);
    assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
    assertThat(new JsonObject(ready.body()).getString("status")).isEqualTo("UP");
  }

  @Test
  void everythingButHealthNeedsTheBearerToken() throws Exception {
    for (String path : new String[] {"/metrics", "/status", "/api/messages/abc"}) {
      HttpResponse<String> r = get(path, false);
      assertThat(r.statusCode()).as(path).isEqualTo(401);
      assertThat(r.headers().firstValue("WWW-Authenticate")).get().asString().startsWith("Bearer");
      assertThat(r.body()).doesNotContain("relay365_");
    }
    HttpRequest wrong = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + h.relay.adminPort() + "/metrics"))
        .header("Authorization", "Bearer " + ADMIN_TOKEN + "x").build();
    assertThat(http.send(wrong, HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(401);
    assertThat(get("/health/ready", false).statusCode()).isEqualTo(200);
  }

  @Test
  void configurationFailureRaisesAnAlertThatMakesTheRelayUnreadyUntilDeliveryWorksAgain() throws Exception {
    h.sandbox.faults().denyMailbox(SENDER);
    String id = send("denied");
    await().atMost(Duration.ofSeconds(30)).until(() -> status(id).equals("deferred"));
    JsonObject state = new JsonObject(get("/api/messages/" + id, true).body());
    assertThat(state.getString("code")).isEqualTo("HTTP 403");
    assertThat(state.getString("detail")).contains("Application Access Policy");

    HttpResponse<String> ready = get("/health/ready", false);
    assertThat(ready.statusCode()).isEqualTo(503);
    JsonObject body = new JsonObject(ready.body());
    assertThat(body.getString("status")).isEqualTo("DOWN");
    assertThat(body.getJsonArray("checks").getJsonObject(2).getString("id")).isEqualTo("transport");
    assertThat(body.getJsonArray("checks").getJsonObject(2).getString("reason")).contains("HTTP 403");
    String metrics = get("/metrics", true).body();
    assertThat(metrics).contains("relay365_messages_deferred_total{kind=\"configuration\"} 1.0")
        .contains("relay365_upstream_responses_total{code=\"HTTP 403\"} 1.0")
        .contains("relay365_alerts_active 1.0");

    h.sandbox.faults().reset(); // the administrator fixed the policy; the retry (1 s in tests) delivers
    await().atMost(Duration.ofSeconds(30)).until(() -> status(id).equals("delivered"));
    await().atMost(Duration.ofSeconds(10)).until(() -> get("/health/ready", false).statusCode() == 200);
  }

  @Test
  void tokenFailureMakesTheRelayUnready() throws Exception {
    h.sandbox.faults().tokenError("7000222", 100);
    HttpResponse<String> ready = get("/health/ready", false);
    assertThat(ready.statusCode()).isEqualTo(503);
    JsonObject token = new JsonObject(ready.body()).getJsonArray("checks").getJsonObject(1);
    assertThat(token.getString("id")).isEqualTo("token");
    assertThat(token.getString("reason")).contains("AADSTS7000222").contains("expired");
    assertThat(get("/metrics", true).body()).contains("relay365_token_failures_total 1.0");
  }
}
