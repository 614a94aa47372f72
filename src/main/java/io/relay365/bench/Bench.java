package io.relay365.bench;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Locale;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

/** Small helpers shared by the benchmark commands. */
final class Bench {
  /**
   * Exit status of a benchmark when relay365 itself broke: the relay process died, or messages it accepted
   * were not delivered within the deadline. The only status CI fails on (.ci/run); a figure below a target,
   * a refused message (the client knows it was not taken) or a Postfix that cannot be set up is not a failure
   * of relay365 and exits 0 or {@link #INCOMPLETE}.
   */
  static final int BROKEN = 10;
  /** Exit status when the benchmark could not measure (Postfix missing or failing, a driver error). */
  static final int INCOMPLETE = 2;

  /** relay365 crashed or lost a message: see {@link #BROKEN}. */
  static final class Broken extends Exception {
    Broken(String message) {
      super(message);
    }
  }

  private Bench() {}

  /** A free loopback port (bound and released: the usual small race is acceptable for a benchmark). */
  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  static void awaitPort(int port, Duration timeout) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
        return;
      } catch (IOException e) {
        if (System.nanoTime() > deadline) {
          throw new IOException("nothing listens on 127.0.0.1:" + port + " after " + timeout, e);
        }
        Thread.sleep(50);
      }
    }
  }

  /** Polls every {@code pollMillis} until true; false on timeout. */
  static boolean await(BooleanSupplier condition, Duration timeout, long pollMillis) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(pollMillis);
    }
    return true;
  }

  /** The jar this class runs from (java -cp target/relay365.jar ...), else target/relay365.jar. */
  static Path jar() {
    try {
      Path p = Path.of(Bench.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      if (Files.isRegularFile(p)) {
        return p;
      }
    } catch (URISyntaxException | RuntimeException ignored) {
      // fall through
    }
    return Path.of("target/relay365.jar").toAbsolutePath();
  }

  static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  /** The q-quantile (0..1) of sorted values, nearest-rank. */
  static double quantile(long[] sorted, double q) {
    if (sorted.length == 0) {
      return Double.NaN;
    }
    int rank = (int) Math.ceil(q * sorted.length);
    return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
  }

  static long[] sorted(long[] values) {
    long[] s = values.clone();
    Arrays.sort(s);
    return s;
  }

  static String mb(long bytes) {
    return String.format(Locale.ROOT, "%.0f MB", bytes / 1024.0 / 1024.0);
  }

  static void deleteTree(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      System.out.println("could not delete " + dir + ": " + e);
    }
  }
}
