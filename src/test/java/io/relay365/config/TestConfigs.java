package io.relay365.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Builds configuration files for the tests: a valid base written as dotted keys, plus changes. */
final class TestConfigs {
  private TestConfigs() {}

  /** Looks like a real Entra secret (with '~'), so that a leak would be found by a plain contains(). */
  static final String SECRET = "Xq78Q~s3cr3tValue.With-Chars_0123456789ab";
  static final String TENANT = "contoso.onmicrosoft.com";
  static final String CLIENT = "1b2c3d4e-0000-4000-8000-123456789abc";

  /** The required keys only, as raw YAML values; the secret lives in dir/client-secret. */
  static Map<String, String> base(Path dir) throws IOException {
    Path secret = dir.resolve("client-secret");
    Files.writeString(secret, SECRET + "\n", StandardCharsets.UTF_8);
    Map<String, String> m = new LinkedHashMap<>();
    m.put("microsoft.tenant-id", TENANT);
    m.put("microsoft.client-id", CLIENT);
    m.put("microsoft.client-secret-file", secret.toString());
    return m;
  }

  /** Writes "key: value" lines (dotted keys at top level, which the loader accepts). */
  static Path write(Path dir, Map<String, String> keys) throws IOException {
    StringBuilder b = new StringBuilder();
    keys.forEach((k, v) -> b.append(k).append(": ").append(v).append('\n'));
    return writeText(dir, b.toString());
  }

  static Path writeText(Path dir, String text) throws IOException {
    Path f = dir.resolve("relay365.yaml");
    Files.writeString(f, text, StandardCharsets.UTF_8);
    return f;
  }

  static ConfigException failure(Path file, Map<String, String> env) {
    ConfigException e = catchThrowableOfType(ConfigException.class, () -> SettingsLoader.load(file, env));
    assertThat(e).as("expected a ConfigException").isNotNull();
    assertThat(e.getMessage()).as("one line").doesNotContain("\n").doesNotContain("\r");
    return e;
  }
}
