package io.relay365.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.relay365.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What an admin sees when `serve` cannot start: one line naming the problem, and a non-zero exit. */
class ServeCommandTest {
  @TempDir
  Path dir;

  private record Run(int code, String err) {}

  private Run serve(String... args) {
    PrintStream old = System.err;
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      String[] all = new String[args.length + 1];
      all[0] = "serve";
      System.arraycopy(args, 0, all, 1, args.length);
      return new Run(Main.run(all), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setErr(old);
    }
  }

  @Test
  void shippedExampleStopsAtThePlaceholderWithExitCode78() {
    Run r = serve("--config", "conf/relay365.yaml");
    assertThat(r.code()).isEqualTo(Exits.CONFIG);
    assertThat(r.err().lines()).hasSize(1);
    assertThat(r.err()).startsWith("relay365: configuration error: microsoft.tenant-id:")
        .contains("placeholder");
  }

  @Test
  void secretNeverPrintedWhenAnotherSettingIsWrong() throws Exception {
    Path cfg = dir.resolve("bad.yaml");
    Files.writeString(cfg, """
        microsoft:
          tenant-id: contoso.onmicrosoft.com
          client-id: 8e1d4c2a-3b5f-4a69-8d07-6c2e9f1b3a54
          client-secret: "Zq8~verySecretValue.ThatMustNeverLeak_123"
        smtp:
          listen: "127.0.0.1:99999"
        """);
    Run r = serve("--config", cfg.toString());
    assertThat(r.code()).isEqualTo(Exits.CONFIG);
    assertThat(r.err()).contains("smtp.listen").doesNotContain("verySecretValue");
  }

  @Test
  void missingConfigFileIsNamed() {
    Run r = serve("--config", dir.resolve("nope.yaml").toString());
    assertThat(r.code()).isEqualTo(Exits.CONFIG);
    assertThat(r.err()).contains("nope.yaml");
  }

  @Test
  void unusableSpoolIsNamedWithExitCode69() throws Exception {
    Path file = Files.writeString(dir.resolve("not-a-dir"), "x");
    Path cfg = dir.resolve("relay.yaml");
    Files.writeString(cfg, """
        smtp:
          listen: "127.0.0.1:0"
        spool:
          dir: "%s/sub"
        microsoft:
          tenant-id: contoso.onmicrosoft.com
          client-id: 8e1d4c2a-3b5f-4a69-8d07-6c2e9f1b3a54
          client-secret: "Zq8~verySecretValue.ThatMustNeverLeak_123"
        """.formatted(file));
    Run r = serve("--config", cfg.toString());
    assertThat(r.code()).isEqualTo(Exits.UNAVAILABLE);
    assertThat(r.err()).contains("relay365: could not start: Spool directory").contains("not-a-dir")
        .doesNotContain("verySecretValue");
  }
}
