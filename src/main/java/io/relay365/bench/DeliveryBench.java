package io.relay365.bench;

import io.relay365.MailEvents;
import io.relay365.Relay;
import io.relay365.config.Settings;
import io.relay365.config.SettingsLoader;
import io.relay365.sandbox.Sandbox;
import io.relay365.sandbox.SandboxOptions;
import io.relay365.store.Envelope;
import io.relay365.store.Incoming;
import io.relay365.store.Spool;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * Delivery throughput against the sandbox with simulated EWS latency, as achieved ÷ theoretical, where
 * theoretical = concurrency ÷ latency (each delivery slot can do one request per latency).
 *
 * <pre>
 *   java -cp target/relay365.jar io.relay365.bench.DeliveryBench [--concurrency 8,16,32] [--latency-ms 100]
 *        [--seconds 5]
 * </pre>
 *
 * For each setting: a fresh sandbox (EWS answering after the latency) and spool, filled with
 * concurrency × seconds ÷ latency messages spread over as many sending mailboxes as delivery slots, so that
 * neither the sandbox's 27-per-mailbox cap nor delivery.per-mailbox-concurrency (4) limits; the
 * per-mailbox rate (Exchange's 30/min policy, not a capacity) is lifted for the run. Then the relay starts
 * (ews.workers = delivery.concurrency) and the rate is measured from the first completed delivery to the
 * last, so token fetch and JVM warm-up of the first requests are left out. Relay and sandbox share this
 * JVM and machine (each with its own Vert.x instance); the sandbox adds the latency after its own
 * processing (parsing, writing the message to disk), so that processing counts against the relay.
 */
public final class DeliveryBench {
  private DeliveryBench() {}

  public static void main(String[] args) throws Exception {
    List<Integer> settings = List.of(8, 16, 32);
    long latencyMs = 100;
    double seconds = 5;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--concurrency" -> settings = Stream.of(args[++i].split(",")).map(Integer::parseInt).toList();
        case "--latency-ms" -> latencyMs = Long.parseLong(args[++i]);
        case "--seconds" -> seconds = Double.parseDouble(args[++i]);
        default -> {
          System.err.println("usage: DeliveryBench [--concurrency 8,16,32] [--latency-ms 100] [--seconds 5]");
          System.exit(64);
        }
      }
    }
    // The per-message mail log goes to the console; at hundreds of lines a second the terminal, not the
    // relay, would be measured. Errors still show.
    ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger("relay365.mail"))
        .setLevel(ch.qos.logback.classic.Level.WARN);
    ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME))
        .setLevel(ch.qos.logback.classic.Level.WARN);
    System.out.printf("relay365 delivery benchmark: sandbox EWS latency %d ms, ~%.0f s per setting, %d CPU(s)%n",
        latencyMs, seconds, Runtime.getRuntime().availableProcessors());
    System.out.printf("%-12s %-9s %-14s %-14s %s%n", "concurrency", "messages", "achieved/s", "theoretical/s",
        "ratio");
    double worst = Double.MAX_VALUE;
    for (int c : settings) {
      double[] r = run(c, latencyMs, seconds);
      worst = Math.min(worst, r[2]);
      System.out.printf("%-12d %-9d %-14.1f %-14.1f %.3f%n", c, (int) r[3], r[0], r[1], r[2]);
    }
    System.out.printf("worst ratio %.3f (target >= 0.9)%n", worst);
    System.exit(0);
  }

  /** @return achieved/s, theoretical/s, ratio, messages */
  static double[] run(int concurrency, long latencyMs, double seconds) throws Exception {
    Path dir = Files.createTempDirectory("relay365-bench");
    Vertx vertx = Vertx.vertx();
    Vertx microsoft = Vertx.vertx(); // the fake's worker pool must not compete with the relay's
    try {
      Sandbox sandbox = Sandbox.start(microsoft, new SandboxOptions().dataDir(dir.resolve("sandbox")).port(0))
          .await(60, TimeUnit.SECONDS);
      sandbox.faults().latency(Duration.ofMillis(latencyMs));
      Map<String, String> env = new HashMap<>();
      env.put("HOSTNAME", "bench.relay365.test");
      env.put("RELAY365_SMTP_LISTEN", "127.0.0.1:0");
      env.put("RELAY365_ADMIN_LISTEN", "off"); // never the default 127.0.0.1:8025 (a real relay may hold it)
      env.put("RELAY365_SPOOL_DIR", dir.resolve("spool").toString());
      env.put("RELAY365_DELIVERY_CONCURRENCY", Integer.toString(concurrency));
      env.put("RELAY365_EWS_WORKERS", Integer.toString(Math.min(64, concurrency)));
      env.put("RELAY365_DELIVERY_PER_MAILBOX_RATE", "1000000");
      env.put("RELAY365_EWS_DISPOSITION", "send-only");
      Settings settings = SettingsLoader.load(sandbox.writeRelayConfig(), env);

      double theoretical = concurrency * 1000.0 / latencyMs;
      int messages = (int) Math.max(concurrency * 4L, Math.round(theoretical * seconds));
      int mailboxes = Math.max(1, concurrency);
      Spool spool = Spool.open(settings.spool().dir());
      byte[] body = ("x".repeat(76) + "\r\n").repeat(20).getBytes(StandardCharsets.US_ASCII);
      for (int i = 0; i < messages; i++) {
        String from = "device" + (i % mailboxes) + "@contoso.example";
        try (Incoming in = spool.begin()) {
          in.body().write(("From: " + from + "\r\nTo: alice@example.com\r\nSubject: bench " + i + "\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
          in.body().write(body);
          in.commit(from, List.of("alice@example.com"), "127.0.0.1", "bench");
        }
      }

      AtomicInteger delivered = new AtomicInteger();
      AtomicLong first = new AtomicLong();
      AtomicLong last = new AtomicLong();
      MailEvents events = new MailEvents() {
        @Override
        public void delivered(Envelope e, String mailbox, Duration latency) {
          long now = System.nanoTime();
          first.compareAndSet(0, now);
          last.set(now);
          delivered.incrementAndGet();
        }
      };
      Relay relay = Relay.start(vertx, settings, events).await(60, TimeUnit.SECONDS);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos((long) (seconds * 10 + 60));
      while (delivered.get() < messages && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      relay.stop().await(60, TimeUnit.SECONDS);
      double elapsed = (last.get() - first.get()) / 1e9;
      double achieved = elapsed <= 0 ? 0 : (delivered.get() - 1) / elapsed;
      return new double[] {achieved, theoretical, achieved / theoretical, messages};
    } finally {
      vertx.close().await(30, TimeUnit.SECONDS);
      microsoft.close().await(30, TimeUnit.SECONDS);
      deleteTree(dir);
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  static List<Integer> list(int... v) {
    List<Integer> l = new ArrayList<>();
    for (int i : v) {
      l.add(i);
    }
    return l;
  }
}
