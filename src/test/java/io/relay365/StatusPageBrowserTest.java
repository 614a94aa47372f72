package io.relay365;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vertx.core.json.JsonObject;
import java.awt.image.BufferedImage;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The status page as a person sees it: rendered by headless Chromium (Debian's chromium package; CI
 * installs it), then read back as the rendered DOM's text and as a screenshot's colours. Skipped when
 * /usr/bin/chromium is absent on a developer machine.
 */
class StatusPageBrowserTest {
  static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  static final String SENDER = "scanner@contoso.example";
  static final String DENIED = "fax@contoso.example";

  @TempDir
  Path dir;
  RelayHarness h;

  @BeforeAll
  static void needsChromium() {
    Assumptions.assumeTrue(Files.isExecutable(CHROMIUM), "chromium not installed (apt-get install chromium)");
  }

  @AfterEach
  void stop() throws Exception {
    if (h != null) {
      h.close();
    }
  }

  @Test
  void aPersonSeesTheProblemTheQueueAndTheRecentDeliveriesAtAGlance() throws Exception {
    h = new RelayHarness(dir).startSandbox().startRelay();
    String delivered = send(SENDER, "first");
    await().atMost(Duration.ofSeconds(30)).until(() -> "delivered".equals(state(delivered)));
    h.sandbox.faults().denyMailbox(DENIED);
    String stuck = send(DENIED, "second");
    await().atMost(Duration.ofSeconds(30)).until(() -> "deferred".equals(state(stuck)));

    String url = "http://127.0.0.1:" + h.relay.adminPort() + "/status";
    long t0 = System.nanoTime();
    String dom = chromium("--dump-dom", url);
    long domMs = (System.nanoTime() - t0) / 1_000_000;
    System.out.println("status page: headless chromium --dump-dom took " + domMs + " ms");

    // The first thing on the page: a headline saying something needs attention, and why.
    assertThat(text(section(dom, "header", "headline"))).startsWith("Needs attention")
        .contains("mail stays queued (1 waiting)");
    assertThat(figure(dom, "queued")).isEqualTo("1 messages waiting");
    assertThat(figure(dom, "token")).startsWith("OK");
    String alerts = text(section(dom, "section", "alerts"));
    assertThat(alerts).contains("HTTP 403").contains("Application Access Policy").contains("relay365 doctor");
    String queue = text(section(dom, "section", "queue"));
    assertThat(queue).contains(stuck).contains(DENIED).contains("HTTP 403");
    String deliveries = text(section(dom, "section", "deliveries"));
    assertThat(deliveries).contains(delivered).contains(SENDER).doesNotContain(stuck);
    assertThat(text(section(dom, "section", "errors"))).contains(stuck).contains("deferred configuration");

    // And in colour: the headline band is red while an alert is raised.
    Path png = dir.resolve("status.png");
    long t1 = System.nanoTime();
    chromium("--screenshot=" + png, "--window-size=1280,900", url);
    System.out.println("status page: headless chromium --screenshot took " + (System.nanoTime() - t1) / 1_000_000
        + " ms");
    BufferedImage img = ImageIO.read(png.toFile());
    assertThat(dominant(img.getRGB(5, 5))).isEqualTo("red");

    // Fixed: the page turns green and says so.
    h.sandbox.faults().reset();
    await().atMost(Duration.ofSeconds(30)).until(() -> "delivered".equals(state(stuck)));
    String after = chromium("--dump-dom", url);
    assertThat(text(section(after, "header", "headline"))).startsWith("Delivering normally");
    assertThat(text(section(after, "section", "queue"))).contains("The queue is empty");
    chromium("--screenshot=" + png, "--window-size=1280,900", url);
    assertThat(dominant(ImageIO.read(png.toFile()).getRGB(5, 5))).isEqualTo("green");
  }

  String send(String from, String subject) throws Exception {
    try (SmtpDialog smtp = new SmtpDialog(h.smtpPort())) {
      smtp.expect("250", "EHLO test.example");
      return smtp.send(from, new String[] {"alice@contoso.example"},
          ("From: " + from + "\r\nTo: alice@contoso.example\r\nSubject: " + subject + "\r\n\r\nhello\r\n")
              .getBytes(StandardCharsets.US_ASCII));
    }
  }

  String state(String id) throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + h.relay.adminPort() + "/api/messages/" + id)).build(),
        HttpResponse.BodyHandlers.ofString());
    return new JsonObject(r.body()).getString("status");
  }

  /** Headless Chromium with the flags that work on this kind of machine (no network beyond loopback). */
  String chromium(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(CHROMIUM.toString(), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--hide-scrollbars", "--user-data-dir=" + Files.createTempDirectory(dir, "chromium")));
    cmd.addAll(List.of(args));
    Path stdout = Files.createTempFile(dir, "chromium", ".out");
    Process p = new ProcessBuilder(cmd).redirectOutput(stdout.toFile())
        .redirectError(ProcessBuilder.Redirect.DISCARD).start();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("chromium did not finish within 60 s");
    }
    assertThat(p.exitValue()).isZero();
    return Files.readString(stdout, StandardCharsets.UTF_8);
  }

  /** The element {@code <tag ... id="id" ...>…</tag>} (no nesting of the same tag inside it). */
  static String section(String html, String tag, String id) {
    Matcher m = Pattern.compile("<" + tag + "[^>]*id=\"" + id + "\"[^>]*>(.*?)</" + tag + ">", Pattern.DOTALL)
        .matcher(html);
    assertThat(m.find()).as("element %s#%s in the rendered page", tag, id).isTrue();
    return m.group(1);
  }

  /** A figure box: its big value and its label, as read. */
  static String figure(String html, String id) {
    Matcher m = Pattern.compile("id=\"fig-" + id + "\"[^>]*>\\s*<div class=\"value\">(.*?)</div>\\s*"
        + "<div class=\"label\">(.*?)</div>", Pattern.DOTALL).matcher(html);
    assertThat(m.find()).as("figure %s in the rendered page", id).isTrue();
    return text(m.group(1)) + " " + text(m.group(2));
  }

  /** What a reader sees of some HTML: tags removed, entities decoded, spaces collapsed. */
  static String text(String html) {
    return html.replaceAll("<[^>]+>", " ").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"")
        .replace("&#39;", "'").replace("&amp;", "&").replaceAll("\\s+", " ").strip();
  }

  static String dominant(int rgb) {
    int r = (rgb >> 16) & 0xff;
    int g = (rgb >> 8) & 0xff;
    int b = rgb & 0xff;
    if (r > g + 60 && r > b + 60) {
      return "red";
    }
    if (g > r + 40 && g > b + 20) {
      return "green";
    }
    return String.format("#%02x%02x%02x", r, g, b);
  }
}
