package io.relay365.doctor;

import io.relay365.config.Settings;
import io.relay365.config.SettingsLoader;
import io.relay365.sandbox.Sandbox;
import io.relay365.sandbox.SandboxOptions;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.time.Clock;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * One sandbox per test class, its faults reset before each test, and the doctor run the way the
 * command runs it: on the sandbox's relay fragment plus RELAY365_* overrides ({@link #env}), with
 * delivery.transport set to {@link #transport()}.
 */
abstract class DoctorFixture {
  static final String GOOD = "scanner@contoso.example";
  static final String OTHER = "fax@contoso.example";

  @TempDir
  static Path dir;
  static Vertx vertx;
  static Sandbox sandbox;
  static Path fragment;

  final Map<String, String> env = new HashMap<>();

  /** The delivery.transport under test: "ews", "graph" or "smtp-oauth". */
  abstract String transport();

  @BeforeAll
  static void startSandbox() throws Exception {
    vertx = Vertx.vertx();
    sandbox = Sandbox.start(vertx, new SandboxOptions().dataDir(dir.resolve("sandbox"))).await(60, TimeUnit.SECONDS);
    fragment = sandbox.writeRelayConfig();
  }

  @AfterAll
  static void stop() throws Exception {
    sandbox.close().await(10, TimeUnit.SECONDS);
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @BeforeEach
  void reset() {
    sandbox.faults().reset();
    env.put("RELAY365_SPOOL_DIR", dir.resolve("spool").toString());
    env.put("RELAY365_DELIVERY_TRANSPORT", transport());
  }

  Report doctor(String... mailboxes) throws Exception {
    Settings s = SettingsLoader.load(fragment, env);
    return new Doctor(s, List.of(mailboxes), Clock.systemUTC()).run();
  }
}
