package io.relay365.bench;

import io.relay365.bench.RelayProcesses.RelayProcess;
import io.relay365.bench.RelayProcesses.SandboxProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * relay365 against Postfix on the same machine, in the same run, driven by the same client (Postfix's own
 * smtp-source), both keeping the same promise: 250 only once the message is on stable storage.
 *
 * <pre>
 *   java -cp target/relay365.jar io.relay365.bench.PostfixComparison [--messages 5000] [--sessions 16]
 *        [--size 10240] [--latency-messages 1000] [--warmup 1000] [--warmup-rounds 10] [--relay-heap 512m]
 *        [--dir DIR] [--keep] [--deliver-timeout 1800]
 * </pre>
 *
 * Exit status: 0 with figures (whatever they are); {@link Bench#BROKEN} if relay365 died or did not deliver
 * every message it accepted within {@code --deliver-timeout} seconds; {@link Bench#INCOMPLETE} if something
 * else prevented the measurement (e.g. Postfix could not be installed or started).
 *
 * <b>Postfix</b> ({@link PrivatePostfix}): a private instance (own config, queue and data directories under
 * the work directory) on a loopback port, relaying to smtp-sink; default durability (the queue file is
 * fsynced before 250). <b>relay365</b>: the real jar as a separate JVM ({@code serve}, -Xmx as the systemd
 * unit, spool under the same work directory, so on the same disk), delivering to {@code relay365 sandbox}
 * (also a separate process, no added latency). Both systems deliver all the time they receive, as they
 * would in service. The sandbox answers for one sending mailbox here (smtp-source has one envelope sender),
 * so the per-mailbox policies (delivery.per-mailbox-rate, Exchange Online's 30 a minute, and
 * delivery.per-mailbox-concurrency) are lifted to delivery.concurrency for the run; the sandbox still
 * enforces Exchange's 27 concurrent requests per mailbox. smtp.max-connections-per-client is raised
 * to max-connections, since every session comes from 127.0.0.1.
 *
 * <p>{@code --accept-only --sandbox-faults '{"latencyMillis":60000}'} measures relay365 taking mail in alone:
 * the warm-up delivers as usual, then the faults are set on the sandbox (they always apply from the measured
 * messages on) and only the time to the last 250 is reported.
 *
 * <p>For each system: a warm-up of {@code --warmup} messages, not counted. relay365 is a daemon that runs
 * for weeks, so it is measured as it runs then, with its hot code compiled: warm-up rounds repeat (up to
 * {@code --warmup-rounds}) until the JIT compiler threads of the relay and the sandbox take less than
 * {@link #STEADY} of their CPU in a round; the share they still took while measured is printed. Then
 * smtp-source sends {@code --messages} messages; <i>accepted/s</i> counts until smtp-source has
 * its last 250 (and exits), <i>end-to-end/s</i> until the sink (sandbox) has every one. Then our own
 * client ({@link SmtpProbe}) times DATA-to-250 on a separate sample, with one session and with
 * {@code --sessions} sessions. Peak memory: relay365's VmHWM; Postfix's largest sum of VmRSS over its
 * master and children, sampled every 20 ms.
 */
public final class PostfixComparison {
  private static final String FROM = "scanner@contoso.example";
  private static final String TO = "alice@example.com";
  /** Warm-up ends when JIT compilation takes less than this share of the JVMs' CPU in a round. */
  static final double STEADY = 0.10;

  private int messages = 5000;
  private int sessions = 16;
  private int size = 10240;
  private int latencyMessages = -1;
  private int warmup = -1;
  private int warmupRounds = 10;
  private String relayHeap = "512m";
  private Path dir;
  private boolean keep;
  private String only = "both";
  private String sandboxFaults;
  private boolean acceptOnly;
  private Path relayJar;
  private Duration deliverTimeout = Duration.ofMinutes(30);
  private final List<String> relayJvm = new ArrayList<>();
  private final List<String> sandboxJvm = new ArrayList<>();
  private final Map<String, String> relayEnv = new LinkedHashMap<>();

  /** One system's figures. */
  record Figures(String name, double acceptSeconds, double endToEndSeconds, long[] latency1, long[] latencyN,
      long peakRss, double cpuSeconds, int failed) {}

  public static void main(String[] args) throws Exception {
    PostfixComparison c = new PostfixComparison();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--messages" -> c.messages = Integer.parseInt(args[++i]);
        case "--sessions" -> c.sessions = Integer.parseInt(args[++i]);
        case "--size" -> c.size = Integer.parseInt(args[++i]);
        case "--latency-messages" -> c.latencyMessages = Integer.parseInt(args[++i]);
        case "--warmup" -> c.warmup = Integer.parseInt(args[++i]);
        case "--warmup-rounds" -> c.warmupRounds = Math.max(1, Integer.parseInt(args[++i]));
        case "--relay-heap" -> c.relayHeap = args[++i];
        case "--relay-jvm" -> c.relayJvm.add(args[++i]);
        case "--sandbox-jvm" -> c.sandboxJvm.add(args[++i]);
        case "--relay-env" -> {
          String[] kv = args[++i].split("=", 2);
          c.relayEnv.put(kv[0], kv[1]);
        }
        case "--dir" -> c.dir = Path.of(args[++i]);
        case "--keep" -> c.keep = true;
        case "--only" -> c.only = args[++i];
        case "--sandbox-faults" -> c.sandboxFaults = args[++i];
        case "--accept-only" -> c.acceptOnly = true;
        case "--relay-jar" -> c.relayJar = Path.of(args[++i]).toAbsolutePath();
        case "--deliver-timeout" -> c.deliverTimeout = Duration.ofSeconds(Long.parseLong(args[++i]));
        default -> {
          System.err.println("usage: PostfixComparison [--messages 5000] [--sessions 16] [--size 10240]"
              + " [--latency-messages N] [--warmup N] [--warmup-rounds 10] [--relay-heap 512m] [--dir DIR] [--keep]"
              + " [--only postfix|relay365] [--relay-jar JAR] [--relay-env KEY=VALUE] [--relay-jvm OPTION]"
              + " [--sandbox-jvm OPTION] [--sandbox-faults JSON] [--accept-only]"
              + " [--deliver-timeout SECONDS]");
          System.exit(64);
        }
      }
    }
    if (c.relayJar == null) {
      c.relayJar = Bench.jar();
    }
    if (c.latencyMessages < 0) {
      c.latencyMessages = Math.min(1000, c.messages);
    }
    if (c.warmup < 0) {
      c.warmup = Math.min(1000, c.messages);
    }
    // on Ctrl-C or kill, stop what we started (the Postfix master is stopped by its close())
    Runtime.getRuntime().addShutdownHook(new Thread(() -> ProcessHandle.current().descendants()
        .forEach(ProcessHandle::destroy), "bench-cleanup"));
    int status;
    try {
      status = c.run();
    } catch (Bench.Broken e) {
      System.out.println("BROKEN: " + e.getMessage());
      status = Bench.BROKEN;
    } catch (Exception e) {
      System.out.println("could not measure: " + e);
      status = Bench.INCOMPLETE;
    }
    System.exit(status);
  }

  private int run() throws Exception {
    Path work = dir != null ? Files.createDirectories(dir) : Files.createTempDirectory("relay365-vs-postfix");
    // Postfix's daemons run as the postfix user: they must be able to reach their queue directory inside
    Files.setPosixFilePermissions(work, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    String loadBefore = ProcStats.load();
    System.out.println("relay365 vs Postfix: " + messages + " messages of " + size + " bytes, " + sessions
        + " sessions (smtp-source), one recipient each; warm-up " + warmup + "; latency sample " + latencyMessages);
    System.out.println("machine:    " + ProcStats.machine());
    System.out.println("disk:       " + ProcStats.filesystem(work) + "; work dir " + work);
    System.out.println("load:       " + loadBefore + " (1/5/15 min) before");
    try {
      Figures postfix = null;
      boolean incomplete = false;
      if (!only.equals("relay365")) {
        try {
          PrivatePostfix.ensureInstalled();
          postfix = postfix(work.resolve("postfix"));
        } catch (IOException | RuntimeException e) {
          // the comparison is incomplete, but relay365 is still measured (and checked for crashes and losses)
          System.out.println("WARNING: Postfix could not be measured: " + e.getMessage());
          incomplete = true;
        }
      }
      Figures relay = only.equals("postfix") ? null : relay365(work.resolve("relay365"));
      System.out.println("load:       " + ProcStats.load() + " (1/5/15 min) after");
      print(postfix, relay);
      if ((postfix != null && postfix.failed > 0) || (relay != null && relay.failed > 0)) {
        // a refusal is not a loss: the client was told, and a device would send again
        System.out.println("WARNING: some probe messages were refused (see above)");
      }
      return incomplete ? Bench.INCOMPLETE : 0;
    } finally {
      if (keep) {
        System.out.println("kept " + work);
      } else {
        Bench.deleteTree(work);
      }
    }
  }

  // ---- Postfix ---------------------------------------------------------------------------------

  private Figures postfix(Path work) throws IOException, InterruptedException {
    System.out.println("-- Postfix " + PrivatePostfix.version() + ": private instance, relayhost = smtp-sink");
    Files.createDirectories(work);
    int sinkPort = Bench.freePort();
    int port = Bench.freePort();
    try (PrivatePostfix.Sink sink = new PrivatePostfix.Sink(sinkPort);
        PrivatePostfix postfix = PrivatePostfix.start(work, port, sinkPort);
        ProcStats.TreePeak peak = new ProcStats.TreePeak(postfix.masterPid(), 20)) {
      return measure("Postfix", port, sink::messages, () -> ProcStats.treeCpuSeconds(postfix.masterPid()),
          peak::peak);
    } catch (Bench.Broken e) {
      throw new IOException(e.getMessage(), e); // Postfix's trouble, not relay365's
    } catch (IOException | InterruptedException | RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IOException(e.toString(), e);
    }
  }

  // ---- relay365 --------------------------------------------------------------------------------

  private Figures relay365(Path work) throws Exception {
    System.out.println("-- relay365 (" + relayJar + ", -Xmx" + relayHeap
        + ") delivering to relay365 sandbox (separate process, no added latency)");
    Files.createDirectories(work);
    Path sandboxDir = RelayProcesses.sandboxDir(work);
    try (SandboxProcess sandbox = SandboxProcess.start(relayJar, sandboxDir, "2g", work.resolve("sandbox.log"),
        sandboxJvm)) {
      Map<String, String> env = new LinkedHashMap<>();
      env.put("RELAY365_SPOOL_DIR", work.resolve("spool").toString());
      env.put("RELAY365_SMTP_HOSTNAME", "relay.bench.test");
      env.put("RELAY365_ADMIN_LISTEN", "off");
      env.put("RELAY365_SMTP_MAX_CONNECTIONS_PER_CLIENT", "50");
      env.put("RELAY365_DELIVERY_PER_MAILBOX_RATE", "1000000");
      env.put("RELAY365_SPOOL_MAX_MESSAGES", "1000000");
      env.putAll(relayEnv);
      // one sending mailbox: it may use every delivery slot (policy lifted, see the class comment)
      env.putIfAbsent("RELAY365_DELIVERY_PER_MAILBOX_CONCURRENCY",
          env.getOrDefault("RELAY365_DELIVERY_CONCURRENCY", "1024"));
      // faults apply from the measured messages on: the warm-up delivers, so the relay is measured warm
      Runnable faults = () -> {
        if (sandboxFaults != null) {
          try {
            sandbox.faults(new io.vertx.core.json.JsonObject(sandboxFaults));
          } catch (IOException | InterruptedException e) {
            throw new IllegalStateException("could not set the sandbox faults: " + e.getMessage(), e);
          }
        }
      };
      int base = sandbox.received();
      double sandboxCpu0 = ProcStats.cpuSeconds(sandbox.pid());
      try (RelayProcess relay = RelayProcess.start(relayJar, sandbox.fragment(), relayHeap, env,
          work.resolve("relay.log"), relayJvm)) {
        Figures f;
        try {
          f = measure("relay365", relay.port(), () -> {
            try {
              return sandbox.received() - base;
            } catch (IOException | InterruptedException e) {
              return -1;
            }
          }, () -> ProcStats.cpuSeconds(relay.pid()), () -> ProcStats.peakRss(relay.pid()),
              new Jit(relay.pid(), sandbox.pid()), faults);
        } catch (Exception e) {
          if (!relay.alive()) {
            throw new Bench.Broken("relay365 died during the run (" + e.getMessage() + "); see "
                + work.resolve("relay.log"));
          }
          throw e;
        }
        System.out.printf(Locale.ROOT, "   sandbox used %.1f CPU s in all (warm-up and probes included)%n",
            ProcStats.cpuSeconds(sandbox.pid()) - sandboxCpu0);
        if (!relay.alive()) {
          throw new Bench.Broken("relay365 died during the run; see " + work.resolve("relay.log"));
        }
        return f;
      }
    } finally {
      Bench.deleteTree(sandboxDir);
    }
  }

  // ---- the same measurement for both -----------------------------------------------------------

  interface Counter {
    long get();
  }

  interface Sampler {
    double get();
  }

  /**
   * CPU of the relay's and the sandbox's JVMs and of their JIT compiler threads, to tell when their hot code
   * is compiled. A sample is {relay, relay's compilers, sandbox, sandbox's compilers} in CPU seconds.
   */
  record Jit(long relay, long sandbox) {
    double[] sample() {
      return new double[] {Math.max(0, ProcStats.cpuSeconds(relay)), ProcStats.compilerCpuSeconds(relay),
          Math.max(0, ProcStats.cpuSeconds(sandbox)), ProcStats.compilerCpuSeconds(sandbox)};
    }

    /** The compilers' share of both JVMs' CPU between two samples. */
    static double share(double[] from, double[] to) {
      double all = to[0] - from[0] + to[2] - from[2];
      return all <= 0 ? 0 : (to[1] - from[1] + to[3] - from[3]) / all;
    }

    static String describe(double[] from, double[] to) {
      return String.format(Locale.ROOT, "relay %.1f CPU s (JIT %.1f), sandbox %.1f CPU s (JIT %.1f)",
          to[0] - from[0], to[1] - from[1], to[2] - from[2], to[3] - from[3]);
    }
  }

  private Figures measure(String name, int port, Counter delivered, Sampler cpu, Counter peakRss) throws Exception {
    return measure(name, port, delivered, cpu, peakRss, null, () -> { });
  }

  private Figures measure(String name, int port, Counter delivered, Sampler cpu, Counter peakRss, Jit jit,
      Runnable beforeMeasured) throws Exception {
    long expected = 0;
    for (int round = 1; warmup > 0; round++) {
      double[] before = jit == null ? null : jit.sample();
      PrivatePostfix.smtpSource(port, sessions, warmup, size, FROM, TO);
      expected += warmup;
      awaitDelivered(name, delivered, expected);
      if (jit == null) {
        break;
      }
      double share = Jit.share(before, jit.sample());
      System.out.printf(Locale.ROOT, "   %s: warm-up round %d (%d messages): JIT compilers took %.0f%% of the CPU%n",
          name, round, warmup, share * 100);
      if (share < STEADY || round >= warmupRounds) {
        break;
      }
    }
    beforeMeasured.run();
    double[] jit0 = jit == null ? null : jit.sample();
    double cpu0 = cpu.get();
    long t0 = System.nanoTime();
    double accept = PrivatePostfix.smtpSource(port, sessions, messages, size, FROM, TO);
    expected += messages;
    if (acceptOnly) {
      double cpuUsed = cpu.get() - cpu0;
      System.out.printf(Locale.ROOT, "   %s: %d accepted in %.2f s (%.1f CPU s); not waiting for delivery%n", name,
          messages, accept, cpuUsed);
      return new Figures(name, accept, Double.NaN, new long[0], new long[0], peakRss.get(), cpuUsed, 0);
    }
    awaitDelivered(name, delivered, expected);
    double endToEnd = (System.nanoTime() - t0) / 1e9;
    double cpuUsed = cpu.get() - cpu0;
    System.out.printf(Locale.ROOT, "   %s: %d accepted in %.2f s, all delivered after %.2f s (%.1f CPU s)%n", name,
        messages, accept, endToEnd, cpuUsed);
    if (jit != null) {
      double[] jit1 = jit.sample();
      System.out.printf(Locale.ROOT, "   %s: while measured: %s; JIT compilers %.0f%% of it%n", name,
          Jit.describe(jit0, jit1), Jit.share(jit0, jit1) * 100);
    }

    SmtpProbe.Result one = SmtpProbe.run(port, 1, Math.max(1, latencyMessages / 4), size, FROM, TO);
    long p0 = System.nanoTime();
    SmtpProbe.Result many = SmtpProbe.run(port, sessions, latencyMessages, size, FROM, TO);
    double probeSeconds = (System.nanoTime() - p0) / 1e9;
    // closed loop: each session sends its next message once the last one got its 250, so the latency at
    // N sessions is about N / rate minus the rest of the dialogue (Little's law): read it with the rate
    System.out.printf(Locale.ROOT, "   %s: latency sample, %d sessions: %d messages in %.2f s (%.0f msg/s)%n", name,
        sessions, many.nanos().length, probeSeconds, many.nanos().length / probeSeconds);
    expected += one.nanos().length + many.nanos().length;
    int failed = one.failed() + many.failed();
    if (failed > 0) {
      System.out.println("   " + failed + " probe message(s) refused, first: "
          + (one.firstFailure() != null ? one.firstFailure() : many.firstFailure()));
    }
    awaitDelivered(name, delivered, expected);
    return new Figures(name, accept, endToEnd, Bench.sorted(one.nanos()), Bench.sorted(many.nanos()),
        peakRss.get(), cpuUsed, failed);
  }

  private void awaitDelivered(String name, Counter delivered, long expected) throws Exception {
    if (!Bench.await(() -> delivered.get() >= expected, deliverTimeout, 10)) {
      throw new Bench.Broken(name + ": only " + delivered.get() + " of " + expected + " accepted messages delivered"
          + " within " + deliverTimeout.toSeconds() + " s (lost or stuck)");
    }
  }

  // ---- output ----------------------------------------------------------------------------------

  private void print(Figures p, Figures r) {
    System.out.println();
    System.out.printf(Locale.ROOT, "%-34s %14s %14s %10s%n", "", "Postfix", "relay365", "ratio r/P");
    row("accepted msg/s (until last 250)", p == null ? Double.NaN : messages / p.acceptSeconds,
        r == null ? Double.NaN : messages / r.acceptSeconds, "%14.0f");
    row("end-to-end msg/s (sink has all)", p == null ? Double.NaN : messages / p.endToEndSeconds,
        r == null ? Double.NaN : messages / r.endToEndSeconds, "%14.0f");
    row("DATA->250 p50 ms, 1 session", ms(p, true, 0.5), ms(r, true, 0.5), "%14.2f");
    row("DATA->250 p99 ms, 1 session", ms(p, true, 0.99), ms(r, true, 0.99), "%14.2f");
    row("DATA->250 p50 ms, " + sessions + " sessions", ms(p, false, 0.5), ms(r, false, 0.5), "%14.2f");
    row("DATA->250 p99 ms, " + sessions + " sessions", ms(p, false, 0.99), ms(r, false, 0.99), "%14.2f");
    row("peak resident memory MB", p == null ? Double.NaN : p.peakRss / 1048576.0,
        r == null ? Double.NaN : r.peakRss / 1048576.0, "%14.0f");
    row("CPU seconds for the " + messages, p == null ? Double.NaN : p.cpuSeconds,
        r == null ? Double.NaN : r.cpuSeconds, "%14.1f");
    System.out.println();
    System.out.println("Postfix: private instance, default durability (queue file fsynced before 250), memory ="
        + " peak of the summed VmRSS of master + children (sampled every 20 ms).");
    System.out.println("relay365: -Xmx" + relayHeap + ", 250 after message + envelope + directory entries are"
        + " fsynced; memory = VmHWM of the JVM; CPU excludes the sandbox.");
    System.out.println("Warm-up: " + warmup + " messages each; relay365 repeats it (at most " + warmupRounds
        + " rounds) until the JIT compilers take under " + Math.round(STEADY * 100) + "% of its and the sandbox's CPU.");
    System.out.println("Latency: our client, dot-to-250 per message, a new connection per message; the "
        + sessions + "-session sample runs right after the 1-session one.");
  }

  private static double ms(Figures f, boolean one, double q) {
    if (f == null) {
      return Double.NaN;
    }
    return Bench.quantile(one ? f.latency1 : f.latencyN, q) / 1e6;
  }

  private static void row(String label, double postfix, double relay, String fmt) {
    String ratio = Double.isNaN(postfix) || Double.isNaN(relay) || postfix == 0 ? "-"
        : String.format(Locale.ROOT, "%.2f", relay / postfix);
    System.out.printf(Locale.ROOT, "%-34s " + fmt + " " + fmt + " %10s%n", label, postfix, relay, ratio);
  }
}
