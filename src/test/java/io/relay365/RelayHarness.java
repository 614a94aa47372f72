package io.relay365;

import io.relay365.config.Settings;
import io.relay365.config.SettingsLoader;
import io.relay365.sandbox.Sandbox;
import io.relay365.sandbox.SandboxOptions;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
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
