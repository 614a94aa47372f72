package io.relay365;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.relay365.sandbox.ReceivedMessage;
import io.relay365.sandbox.Sandbox;
import io.relay365.sandbox.SandboxOptions;
import io.vertx.core.Vertx;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real jar as a separate process, killed with SIGKILL at random moments while SMTP clients send and
 * the relay delivers, restarted on the same spool each time; the sandbox (fake Microsoft 365) runs in this
 * JVM on one port across restarts.
 *
 * <p>Every send attempt carries its own X-Crash-Attempt header, so each attempt is judged on its own:
 * <ul>
 *   <li>got 250 → must be delivered at least once;
 *   <li>connection lost before the final dot was sent → must never be delivered (a half-received
 *       message must not survive a crash);
 *   <li>final dot written, then the connection died before the reply ("reply lost") → may be delivered: the
 *       relay may have committed it just before dying. The client then resends, as a real device does, so
 *       the message may arrive twice; that is the at-least-once rule of RFC 5321 6.1. Counted and printed.
 *       (A client cannot tell whether the relay read its dot: writes to a killed peer succeed into the
 *       socket buffer, so most kills during DATA show up here, and the printed count of those delivered
 *       says how many the relay had actually committed.)
 * </ul>
 * Relay-side duplicates (one attempt delivered twice: killed after Exchange took it but before the spool
 * entry was removed) are counted and printed too. Finally SIGTERM must stop the relay with exit code 0.
 *
 * <p>Short by default (120 messages, 3 kills); the long form:
 * {@code mvn verify -Dit.test=CrashIT -Dcrash.messages=500 -Dcrash.kills=6}.
 */
class CrashIT {
  static final int MESSAGES = Integer.getInteger("crash.messages", 120);
  static final int KILLS = Integer.getInteger("crash.kills", 3);
  static final int CONNECTIONS = Integer.getInteger("crash.connections", 8);
  static final Path JAR = Path.of("target/relay365.jar");

  @TempDir
  Path dir;

  final Vertx vertx = Vertx.vertx();
  final Random random = new Random(Long.getLong("crash.seed", System.nanoTime()));
  Sandbox sandbox;
  int smtpPort;
  volatile Process relay;
  int runs;

  final Set<String> acked = ConcurrentHashMap.newKeySet();
  final Set<String> cutBeforeDot = ConcurrentHashMap.newKeySet();
  final Set<String> replyLost = ConcurrentHashMap.newKeySet();
  final AtomicInteger inData = new AtomicInteger();
  final AtomicBoolean killAfterNext250 = new AtomicBoolean();
  final AtomicInteger attemptSeq = new AtomicInteger();

  @Test
  void killNineAtRandomMomentsLosesNothingAcceptedAndDeliversNothingUnaccepted() throws Exception {
    assertThat(JAR).as("run through mvn verify: the jar is built in package").exists();
    sandbox = Sandbox.start(vertx, new SandboxOptions().dataDir(dir.resolve("sandbox")).port(0))
        .await(60, TimeUnit.SECONDS);
    sandbox.faults().latency(Duration.ofMillis(150)); // deliveries are in flight when a kill comes
    sandbox.writeRelayConfig();
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      smtpPort = s.getLocalPort();
    }
    startRelay();

    ExecutorService clients = Executors.newFixedThreadPool(CONNECTIONS);
    AtomicInteger next = new AtomicInteger();
    List<Future<?>> done = new ArrayList<>();
    for (int c = 0; c < CONNECTIONS; c++) {
      done.add(clients.submit(() -> {
        int m;
        while ((m = next.getAndIncrement()) < MESSAGES) {
          sendUntilAccepted(m);
        }
        return null;
      }));
    }

    List<String> kills = new ArrayList<>();
    for (int k = 0; k < KILLS; k++) {
      Thread.sleep(300 + random.nextInt(900)); // let mail flow for a random while
      String mode;
      switch (k % 3) {
        case 0:
          mode = "during DATA";
          await().atMost(Duration.ofSeconds(30)).until(() -> inData.get() > 0 || next.get() >= MESSAGES);
          kill();
          break;
        case 1:
          mode = "right after a 250";
          killAfterNext250.set(true);
          await().atMost(Duration.ofSeconds(30)).until(() -> !killAfterNext250.get() || next.get() >= MESSAGES);
          if (killAfterNext250.getAndSet(false)) {
            kill();
          }
          break;
        default:
          mode = "during delivery";
          int before = sandbox.ewsRequests();
          await().atMost(Duration.ofSeconds(30)).until(() -> sandbox.ewsRequests() > before || next.get() >= MESSAGES);
          Thread.sleep(40); // inside the 150 ms the sandbox takes to answer
          kill();
      }
      kills.add(mode);
      relay.waitFor(30, TimeUnit.SECONDS);
      startRelay();
    }
    for (Future<?> f : done) {
      f.get(5, TimeUnit.MINUTES);
    }
    clients.shutdown();

    await().atMost(Duration.ofMinutes(3)).until(() -> delivered().keySet().containsAll(acked) && queueEmpty());
    Map<String, Long> got = delivered();
    long relayDuplicates = got.values().stream().filter(n -> n > 1).mapToLong(n -> n - 1).sum();
    Map<String, Long> perMessage = sandbox.received().stream()
        .collect(Collectors.groupingBy(r -> r.header("X-Crash-Message"), Collectors.counting()));
    long messageDuplicates = perMessage.values().stream().filter(n -> n > 1).mapToLong(n -> n - 1).sum();
    long lostReplyDelivered = replyLost.stream().filter(got::containsKey).count();

    System.out.printf("CrashIT: %d messages on %d connections, %d kill -9 (%s), %d relay runs%n", MESSAGES,
        CONNECTIONS, KILLS, String.join(", ", kills), runs);
    System.out.printf("CrashIT: %d attempts got 250, %d cut before the final dot, %d with the reply lost"
        + " (%d of those delivered)%n", acked.size(), cutBeforeDot.size(), replyLost.size(), lostReplyDelivered);
    System.out.printf("CrashIT: %d deliveries; duplicates: %d of one accepted attempt (relay killed after"
        + " Exchange took it), %d of one message overall (client resent after a lost reply)%n",
        sandbox.received().size(), relayDuplicates, messageDuplicates);

    assertThat(got.keySet()).as("every message that got a 250 is delivered").containsAll(acked);
    assertThat(cutBeforeDot).as("no attempt cut before its final dot is delivered")
        .noneMatch(got::containsKey);
    Set<String> allowed = new java.util.HashSet<>(acked);
    allowed.addAll(replyLost);
    assertThat(allowed).as("nothing is delivered that was not sent whole").containsAll(got.keySet());
    assertThat(perMessage.keySet()).as("every message arrived").hasSize(MESSAGES);

    // SIGTERM: clean stop, exit code 0 (systemd must not log a failure)
    relay.destroy();
    assertThat(relay.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(relay.exitValue()).as("exit code after SIGTERM").isZero();
    vertx.close().await(30, TimeUnit.SECONDS);
  }

  private void startRelay() throws Exception {
    runs++;
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb = new ProcessBuilder(java, "-Xmx256m", "-jar", JAR.toAbsolutePath().toString(), "serve",
        "--config", dir.resolve("sandbox/relay-fragment.yaml").toString());
    Map<String, String> env = pb.environment();
    env.keySet().removeIf(k -> k.startsWith("RELAY365_"));
    env.put("RELAY365_SMTP_LISTEN", "127.0.0.1:" + smtpPort);
    env.put("RELAY365_SMTP_HOSTNAME", "relay.crash.test");
    // ephemeral, not the default 8025: another relay365 on this machine must not make this run die at start
    env.put("RELAY365_ADMIN_LISTEN", "127.0.0.1:0");
    env.put("RELAY365_SPOOL_DIR", dir.resolve("spool").toString());
    env.put("RELAY365_DELIVERY_MIN_BACKOFF", "1s");
    env.put("RELAY365_DELIVERY_MAX_BACKOFF", "2s");
    env.put("RELAY365_DELIVERY_CONCURRENCY", "16");
    env.put("RELAY365_DELIVERY_PER_MAILBOX_RATE", "100000");
    env.put("RELAY365_EWS_WORKERS", "16");
    pb.redirectErrorStream(true);
    pb.redirectOutput(dir.resolve("relay-" + runs + ".log").toFile());
    relay = pb.start();
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100)).until(() -> {
      assertThat(relay.isAlive()).as("relay run %d died; see %s", runs, dir.resolve("relay-" + runs + ".log"))
          .isTrue();
      try (Socket s = new Socket(InetAddress.getLoopbackAddress(), smtpPort)) {
        return true;
      } catch (IOException e) {
        return false;
      }
    });
  }

  private void kill() {
    relay.destroyForcibly(); // SIGKILL on Unix
  }

  /** Like a device: retries until one attempt gets a 250. */
  private void sendUntilAccepted(int message) throws InterruptedException {
    String sender = "device" + (message % 12) + "@contoso.example";
    while (true) {
      String attempt = "a" + attemptSeq.incrementAndGet();
      Result r = send(message, attempt, sender);
      if (r == Result.ACCEPTED) {
        acked.add(attempt);
        if (killAfterNext250.compareAndSet(true, false)) {
          kill();
        }
        return;
      }
      if (r == Result.CUT) {
        cutBeforeDot.add(attempt);
      } else if (r == Result.REPLY_LOST) {
        replyLost.add(attempt);
      }
      Thread.sleep(50 + random.nextInt(100));
    }
  }

  enum Result { ACCEPTED, REFUSED, CUT, REPLY_LOST }

  private Result send(int message, String attempt, String sender) {
    boolean dotSent = false;
    boolean dataStarted = false;
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), smtpPort)) {
      s.setSoTimeout(30_000);
      BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
      OutputStream out = s.getOutputStream();
      if (!reply(in).startsWith("220")) {
        return Result.REFUSED;
      }
      if (!cmd(out, in, "EHLO crash.test").startsWith("250")
          || !cmd(out, in, "MAIL FROM:<" + sender + ">").startsWith("250")
          || !cmd(out, in, "RCPT TO:<alice@example.com>").startsWith("250")
          || !cmd(out, in, "DATA").startsWith("354")) {
        return Result.REFUSED;
      }
      dataStarted = true;
      inData.incrementAndGet();
      try {
        write(out, "From: " + sender + "\r\nTo: alice@example.com\r\nSubject: crash " + message + "\r\n"
            + "X-Crash-Message: m" + message + "\r\nX-Crash-Attempt: " + attempt + "\r\n\r\n");
        for (int chunk = 0; chunk < 3; chunk++) {
          write(out, ("line " + chunk + " of message " + message + " ").repeat(40) + "\r\n");
          Thread.sleep(random.nextInt(15));
        }
        write(out, ".\r\n");
        dotSent = true;
      } finally {
        inData.decrementAndGet();
      }
      String r = reply(in);
      if (r.startsWith("250")) {
        try {
          cmd(out, in, "QUIT");
        } catch (IOException ignored) {
          // the relay may be gone already: the 250 is what counts
        }
        return Result.ACCEPTED;
      }
      return Result.REFUSED;
    } catch (IOException e) {
      if (dotSent) {
        return Result.REPLY_LOST;
      }
      return dataStarted ? Result.CUT : Result.REFUSED;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Result.REFUSED;
    }
  }

  private static void write(OutputStream out, String s) throws IOException {
    out.write(s.getBytes(StandardCharsets.US_ASCII));
    out.flush();
  }

  private static String cmd(OutputStream out, BufferedReader in, String line) throws IOException {
    write(out, line + "\r\n");
    return reply(in);
  }

  private static String reply(BufferedReader in) throws IOException {
    String line;
    String last;
    do {
      line = in.readLine();
      if (line == null) {
        throw new IOException("connection closed");
      }
      last = line;
    } while (line.length() > 3 && line.charAt(3) == '-');
    return last;
  }

  /** Deliveries per X-Crash-Attempt. */
  private Map<String, Long> delivered() {
    Map<String, Long> m = new HashMap<>();
    for (ReceivedMessage r : sandbox.received()) {
      m.merge(r.header("X-Crash-Attempt"), 1L, Long::sum);
    }
    return m;
  }

  /** No committed entry left; names starting with a dot are entries being received or parked, not mail. */
  private boolean queueEmpty() throws IOException {
    try (var s = Files.list(dir.resolve("spool/queue"))) {
      return s.noneMatch(p -> !p.getFileName().toString().startsWith("."));
    }
  }
}
