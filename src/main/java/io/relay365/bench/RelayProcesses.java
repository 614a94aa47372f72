package io.relay365.bench;

import io.relay365.tls.TrustStores;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The real jar as separate processes, as an operator runs it: {@code relay365 sandbox} (the fake Microsoft
 * 365) and {@code relay365 serve} pointed at it by the fragment the sandbox writes.
 */
final class RelayProcesses {
  private RelayProcesses() {}

  /**
   * Where the sandbox keeps what it receives: memory-backed /dev/shm when there is one. Exchange is another
   * machine, so its writes must not share the spool's disk and journal (smtp-sink, Postfix's side of the
   * comparison, writes nothing).
   */
  static Path sandboxDir(Path work) throws IOException {
    Path shm = Path.of("/dev/shm");
    return Files.isDirectory(shm) && Files.isWritable(shm) ? Files.createTempDirectory(shm, "relay365-bench-sandbox")
        : work.resolve("sandbox");
  }

  /** {@code java -jar relay365.jar sandbox --data DIR --port PORT}, with its control endpoint at hand. */
  static final class SandboxProcess implements AutoCloseable {
    private final Process process;
    private final Path data;
    private final int port;
    private final HttpClient http;

    private SandboxProcess(Process process, Path data, int port, HttpClient http) {
      this.process = process;
      this.data = data;
      this.port = port;
      this.http = http;
    }

    static SandboxProcess start(Path jar, Path data, String heap, Path log) throws Exception {
      return start(jar, data, heap, log, List.of());
    }

    static SandboxProcess start(Path jar, Path data, String heap, Path log, List<String> jvmOptions)
        throws Exception {
      int port = Bench.freePort();
      List<String> cmd = new ArrayList<>(List.of(Bench.java(), "-Xmx" + heap));
      cmd.addAll(jvmOptions);
      cmd.addAll(List.of("-jar", jar.toString(), "sandbox", "--data", data.toString(), "--port",
          Integer.toString(port)));
      Process p = new ProcessBuilder(cmd)
          .redirectErrorStream(true).redirectOutput(log.toFile()).start();
      // the first start generates the CA and keys (several seconds), then prints "... is running"
      boolean up = Bench.await(() -> {
        try {
          return !p.isAlive() || Files.readString(log).contains("is running");
        } catch (IOException e) {
          return false;
        }
      }, Duration.ofSeconds(120), 100);
      if (!up || !p.isAlive()) {
        p.destroyForcibly();
        throw new IOException("the sandbox did not start; see " + log);
      }
      HttpClient http = HttpClient.newBuilder()
          .sslContext(TrustStores.clientContext(data.resolve("ca.pem")))
          .connectTimeout(Duration.ofSeconds(10)).build();
      return new SandboxProcess(p, data, port, http);
    }

    Path fragment() {
      return data.resolve("relay-fragment.yaml");
    }

    Path mailDir() {
      return data.resolve("mail");
    }

    long pid() {
      return process.pid();
    }

    /** Messages the sandbox accepted so far (GET /_sandbox/stats). */
    int received() throws IOException, InterruptedException {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri("/_sandbox/stats")).GET()
          .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
      return new JsonObject(r.body()).getInteger("received");
    }

    /** POST /_sandbox/faults (e.g. a larger maxMessageSize). */
    void faults(JsonObject j) throws IOException, InterruptedException {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri("/_sandbox/faults"))
          .header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(j.encode())).build(), HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IOException("sandbox faults: HTTP " + r.statusCode() + " " + r.body());
      }
    }

    private URI uri(String path) {
      return URI.create("https://127.0.0.1:" + port + path);
    }

    @Override
    public void close() throws InterruptedException {
      process.destroy();
      if (!process.waitFor(20, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    }
  }

  /**
   * {@code java -Xmx.. -jar relay365.jar serve --config FRAGMENT} with RELAY365_* settings in the
   * environment (nothing else of the caller's RELAY365_* leaks in).
   */
  static final class RelayProcess implements AutoCloseable {
    private final Process process;
    private final int port;

    private RelayProcess(Process process, int port) {
      this.process = process;
      this.port = port;
    }

    static RelayProcess start(Path jar, Path fragment, String heap, Map<String, String> settings, Path log,
        List<String> jvmOptions) throws IOException, InterruptedException {
      int port = Bench.freePort();
      List<String> cmd = new ArrayList<>(List.of(Bench.java(), "-Xmx" + heap, "-XX:+ExitOnOutOfMemoryError"));
      cmd.addAll(jvmOptions);
      cmd.addAll(List.of("-jar", jar.toString(), "serve", "--config", fragment.toString()));
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
      Map<String, String> env = pb.environment();
      env.keySet().removeIf(k -> k.startsWith("RELAY365_"));
      env.putAll(settings);
      env.put("RELAY365_SMTP_LISTEN", "127.0.0.1:" + port);
      Process p = pb.start();
      try {
        Bench.awaitPort(port, Duration.ofSeconds(90));
      } catch (IOException e) {
        p.destroyForcibly();
        throw new IOException("relay365 did not start; see " + log, e);
      }
      return new RelayProcess(p, port);
    }

    int port() {
      return port;
    }

    long pid() {
      return process.pid();
    }

    boolean alive() {
      return process.isAlive();
    }

    /** SIGTERM, as systemctl stop does; the relay stops cleanly. */
    @Override
    public void close() throws InterruptedException {
      process.destroy();
      if (!process.waitFor(120, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    }
  }
}
