package io.relay365.bench;

import io.relay365.bench.RelayProcesses.RelayProcess;
import io.relay365.bench.RelayProcesses.SandboxProcess;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * One large message relayed by a small JVM while other devices keep sending:
 *
 * <pre>
 *   java -cp target/relay365.jar io.relay365.bench.LargeMessage [--size-mb 50] [--senders 8] [--heap 256m]
 *        [--small-size 10240] [--deliver-timeout 600]
 * </pre>
 *
 * relay365 {@code serve} runs with {@code -Xmx256m} (and smtp.max-message-size above the message) against
 * {@code relay365 sandbox}, whose Exchange is configured to take the size (Exchange Online allows up to
 * 150 MB when configured). {@code --senders} SMTP sessions send small messages without pause from before
 * the large message starts until it has been delivered; then the figures: when the large message got its
 * 250 and when Exchange had it (and its size there), what the small senders got meanwhile (messages/s and
 * DATA-to-250 latency), the relay's peak resident memory, and whether it stayed up (no OutOfMemoryError:
 * the JVM runs with ExitOnOutOfMemoryError).
 *
 * <p>Exit status: {@link Bench#BROKEN} if the relay died or the large message was not in Exchange within
 * {@code --deliver-timeout} seconds of its 250; {@link Bench#INCOMPLETE} if the run could not be set up;
 * else 0 (refused small messages are reported, not failed: their senders were told).
 */
public final class LargeMessage {
  private static final String FROM = "scanner@contoso.example";
  private static final String TO = "alice@example.com";

  private LargeMessage() {}

  public static void main(String[] args) throws Exception {
    int sizeMb = 50;
    int senders = 8;
    String heap = "256m";
    int smallSize = 10240;
    int deliverTimeout = 600;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--size-mb" -> sizeMb = Integer.parseInt(args[++i]);
        case "--senders" -> senders = Integer.parseInt(args[++i]);
        case "--heap" -> heap = args[++i];
        case "--small-size" -> smallSize = Integer.parseInt(args[++i]);
        case "--deliver-timeout" -> deliverTimeout = Integer.parseInt(args[++i]);
        default -> {
          System.err.println("usage: LargeMessage [--size-mb 50] [--senders 8] [--heap 256m] [--small-size 10240]"
              + " [--deliver-timeout SECONDS]");
          System.exit(64);
        }
      }
    }
    Runtime.getRuntime().addShutdownHook(new Thread(() -> ProcessHandle.current().descendants()
        .forEach(ProcessHandle::destroy), "bench-cleanup"));
    int status;
    try {
      status = run(sizeMb, senders, heap, smallSize, Duration.ofSeconds(deliverTimeout));
    } catch (Exception e) {
      System.out.println("could not measure: " + e);
      status = Bench.INCOMPLETE;
    }
    System.exit(status);
  }

  static int run(int sizeMb, int senders, String heap, int smallSize, Duration deliverTimeout) throws Exception {
    long size = sizeMb * 1024L * 1024L;
    Path work = Files.createTempDirectory("relay365-large");
    Path sandboxDir = RelayProcesses.sandboxDir(work);
    System.out.println("relay365 large message: one " + sizeMb + " MB message, relay -Xmx" + heap + ", " + senders
        + " other sessions sending " + smallSize + "-byte messages meanwhile");
    System.out.println("machine:    " + ProcStats.machine());
    System.out.println("disk:       " + ProcStats.filesystem(work));
    System.out.println("load:       " + ProcStats.load() + " (1/5/15 min) before");
    try (SandboxProcess sandbox = SandboxProcess.start(Bench.jar(), sandboxDir, "3g", work.resolve("sandbox.log"))) {
      // Exchange Online takes up to 150 MB when configured (microsoft-wire.md §5); the default is 35 MB
      sandbox.faults(new JsonObject().put("maxMessageSize", size + 16L * 1024 * 1024));
      Map<String, String> env = new LinkedHashMap<>();
      env.put("RELAY365_SPOOL_DIR", work.resolve("spool").toString());
      env.put("RELAY365_SMTP_HOSTNAME", "relay.bench.test");
      env.put("RELAY365_ADMIN_LISTEN", "off");
      env.put("RELAY365_SMTP_MAX_MESSAGE_SIZE", Long.toString(size + 8L * 1024 * 1024));
      env.put("RELAY365_SMTP_MAX_CONNECTIONS_PER_CLIENT", "50");
      env.put("RELAY365_DELIVERY_PER_MAILBOX_RATE", "1000000");
      env.put("RELAY365_DELIVERY_PER_MAILBOX_CONCURRENCY", "1024");
      try (RelayProcess relay = RelayProcess.start(Bench.jar(), sandbox.fragment(), heap, env,
          work.resolve("relay.log"), List.of())) {
        int port = relay.port();
        // warm up the path (JIT, token) with a few small messages
        SmtpProbe.run(port, 2, 200, smallSize, FROM, TO);

        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger failed = new AtomicInteger();
        ConcurrentLinkedQueue<Long> latencies = new ConcurrentLinkedQueue<>();
        List<Thread> threads = new ArrayList<>();
        for (int s = 0; s < senders; s++) {
          int n = s;
          Thread t = new Thread(() -> {
            int m = 0;
            while (!stop.get()) {
              try {
                latencies.add(SmtpProbe.send(port, FROM, TO, "small " + n + "." + m++, smallSize));
              } catch (IOException e) {
                failed.incrementAndGet();
              }
            }
          }, "sender-" + s);
          t.start();
          threads.add(t);
        }
        Thread.sleep(1000);
        int smallBefore = latencies.size();
        long t0 = System.nanoTime();
        long dataTo250;
        try {
          dataTo250 = SmtpProbe.send(port, FROM, TO, "large", size);
        } catch (IOException e) {
          stop.set(true);
          if (!relay.alive()) {
            System.out.println("BROKEN: relay365 died while taking the large message; see " + work.resolve("relay.log"));
            return Bench.BROKEN;
          }
          throw e;
        }
        double accepted = (System.nanoTime() - t0) / 1e9;
        Path delivered = null;
        long deadline = System.nanoTime() + deliverTimeout.toNanos();
        while (delivered == null && System.nanoTime() < deadline && relay.alive()) {
          delivered = largest(sandbox.mailDir(), size);
          if (delivered == null) {
            Thread.sleep(100);
          }
        }
        double deliveredAfter = (System.nanoTime() - t0) / 1e9;
        int smallDuring = latencies.size() - smallBefore;
        stop.set(true);
        for (Thread t : threads) {
          t.join(60_000);
        }
        long peak = ProcStats.peakRss(relay.pid());
        boolean alive = relay.alive();
        long[] lat = Bench.sorted(latencies.stream().mapToLong(Long::longValue).toArray());
        System.out.println("load:       " + ProcStats.load() + " (1/5/15 min) after");
        System.out.println();
        System.out.printf(Locale.ROOT, "large message: %d MB body, 250 after %.1f s (DATA->250 %.0f ms),"
            + " in Exchange after %.1f s%s%n", sizeMb, accepted, dataTo250 / 1e6, deliveredAfter,
            delivered == null ? " -- NOT DELIVERED" : " (" + Files.size(delivered) + " bytes of MIME)");
        System.out.printf(Locale.ROOT, "meanwhile:     %d small messages from %d sessions (%.0f/s), DATA->250 p50"
            + " %.1f ms, p99 %.1f ms, %d refused%n", smallDuring, senders, smallDuring / deliveredAfter,
            Bench.quantile(lat, 0.5) / 1e6, Bench.quantile(lat, 0.99) / 1e6, failed.get());
        System.out.printf(Locale.ROOT, "relay365:      -Xmx%s, peak resident %s, %s%n", heap, Bench.mb(peak),
            alive ? "still running (no OutOfMemoryError)" : "DIED: see " + work.resolve("relay.log"));
        if (failed.get() > 0) {
          System.out.println("WARNING: " + failed.get() + " small messages were refused (their senders were told)");
        }
        if (!alive || delivered == null) {
          System.out.println("BROKEN: " + (alive ? "the large message was not delivered within "
              + deliverTimeout.toSeconds() + " s of its 250" : "relay365 died"));
          return Bench.BROKEN;
        }
        return 0;
      }
    } finally {
      Bench.deleteTree(sandboxDir);
      Bench.deleteTree(work);
    }
  }

  /** The first .eml in the sandbox's mail directory of at least {@code size} bytes, or null. */
  private static Path largest(Path mailDir, long size) throws IOException {
    if (!Files.isDirectory(mailDir)) {
      return null;
    }
    try (Stream<Path> s = Files.list(mailDir)) {
      return s.filter(p -> p.getFileName().toString().endsWith(".eml")).filter(p -> {
        try {
          return Files.size(p) >= size;
        } catch (IOException e) {
          return false;
        }
      }).findFirst().orElse(null);
    }
  }
}
