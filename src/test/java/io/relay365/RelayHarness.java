package io.relay365;

import io.relay365.config.Settings;
import io.relay365.config.SettingsLoader;
import io.relay365.sandbox.Sandbox;
import io.relay365.sandbox.SandboxOptions;
import io.vertx.core.Vertx;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * A relay and the sandbox (fake Microsoft 365) in one test JVM, wired exactly as a user wires them:
 * the sandbox writes its relay configuration fragment, and the relay loads it through the real
 * configuration loader (file + RELAY365_* overrides).
 */
final class RelayHarness implements AutoCloseable {
  final Vertx vertx = Vertx.vertx();
  final Path dir;
  final Map<String, String> env = new HashMap<>();
  Sandbox sandbox;
  Relay relay;
  private int sandboxPort;
  private int graphPort;

  RelayHarness(Path dir) {
    this.dir = dir;
    env.put("RELAY365_SMTP_LISTEN", "127.0.0.1:0");
    env.put("RELAY365_SPOOL_DIR", dir.resolve("spool").toString());
    env.put("RELAY365_DELIVERY_MIN_BACKOFF", "1s");
    env.put("RELAY365_DELIVERY_MAX_BACKOFF", "2s");
    env.put("RELAY365_ADMIN_LISTEN", "127.0.0.1:0");
  }

  RelayHarness startSandbox() throws Exception {
    sandbox = Sandbox.start(vertx, new SandboxOptions().dataDir(dir.resolve("sandbox")).port(sandboxPort)
        .graphPort(graphPort))
        .await(60, TimeUnit.SECONDS);
    sandboxPort = Integer.parseInt(sandbox.ewsUrl().replaceAll("^https://[^:]+:(\\d+)/.*$", "$1"));
    graphPort = sandbox.graphPort(); // a restarted sandbox keeps its Graph origin too
    return this;
  }

  void stopSandbox() throws Exception {
    sandbox.close().await(30, TimeUnit.SECONDS);
  }

  Settings settings() throws Exception {
    return SettingsLoader.load(dir.resolve("sandbox").resolve("relay-fragment.yaml"), env);
  }

  RelayHarness startRelay() throws Exception {
    if (sandbox != null) {
      sandbox.writeRelayConfig();
    }
    relay = Relay.start(vertx, settings()).await(60, TimeUnit.SECONDS);
    return this;
  }

  void stopRelay() throws Exception {
    relay.stop().await(60, TimeUnit.SECONDS);
  }

  int smtpPort() {
    return relay.smtpPort();
  }

  /** Sends {@code msg} through the relay with a real client (Jakarta Mail), to these envelope recipients. */
  void send(jakarta.mail.internet.MimeMessage msg, String... rcpts) throws Exception {
    java.util.Properties p = new java.util.Properties();
    p.put("mail.smtp.host", "127.0.0.1");
    p.put("mail.smtp.port", String.valueOf(smtpPort()));
    jakarta.mail.internet.InternetAddress[] to = new jakarta.mail.internet.InternetAddress[rcpts.length];
    for (int i = 0; i < rcpts.length; i++) {
      to[i] = new jakarta.mail.internet.InternetAddress(rcpts[i]);
    }
    try (jakarta.mail.Transport t = jakarta.mail.Session.getInstance(p).getTransport("smtp")) {
      t.connect();
      t.sendMessage(msg, to);
    }
  }

  /**
   * Devices at once: {@code connections} parallel SMTP sessions, session c sending {@code each} small messages
   * from dev&lt;c&gt;@contoso.example to alice@contoso.example (one sender per session, so Exchange's 30 a
   * minute per mailbox is not reached). Returns the queue ids of the 250 replies, all distinct.
   */
  List<String> sendInParallel(int connections, int each) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(connections);
    try {
      List<Future<List<String>>> sessions = new ArrayList<>();
      for (int c = 0; c < connections; c++) {
        int conn = c;
        sessions.add(pool.submit(() -> {
          List<String> ids = new ArrayList<>();
          try (SmtpDialog smtp = new SmtpDialog(smtpPort())) {
            smtp.expect("250", "EHLO load" + conn + ".example");
            for (int m = 0; m < each; m++) {
              byte[] msg = ("From: dev" + conn + "@contoso.example\r\nTo: alice@contoso.example\r\nSubject: m" + conn
                  + "-" + m + "\r\n\r\nbody " + m + "\r\n").getBytes(StandardCharsets.US_ASCII);
              ids.add(smtp.send("dev" + conn + "@contoso.example", new String[] {"alice@contoso.example"}, msg));
            }
          }
          return ids;
        }));
      }
      List<String> ids = new ArrayList<>();
      for (Future<List<String>> f : sessions) {
        ids.addAll(f.get());
      }
      assertThat(ids).hasSize(connections * each).doesNotHaveDuplicates();
      return ids;
    } finally {
      pool.shutdown();
    }
  }

  /** Waits until the sandbox holds exactly the messages of these queue ids and the spool is empty. */
  void awaitDelivered(List<String> ids) {
    await().atMost(Duration.ofSeconds(60)).until(() -> sandbox.received().size() >= ids.size());
    await().atMost(Duration.ofSeconds(10)).until(() -> relay.spool().size() == 0);
    assertThat(sandbox.received()).hasSize(ids.size());
    assertThat(sandbox.received()).extracting(r -> EndToEndTest.queueId(r.mime()))
        .containsExactlyInAnyOrderElementsOf(ids);
  }

  @Override
  public void close() throws Exception {
    try {
      if (relay != null) {
        relay.stop().await(60, TimeUnit.SECONDS);
      }
    } finally {
      vertx.close().await(30, TimeUnit.SECONDS);
    }
  }
}
