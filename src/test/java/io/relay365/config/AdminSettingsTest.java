package io.relay365.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** admin.* and microsoft.secret-expires: the admin listener can never be exposed without a token. */
class AdminSettingsTest {
  @TempDir
  Path dir;

  Map<String, String> env(String... kv) throws Exception {
    Map<String, String> e = new HashMap<>();
    TestConfigs.base(dir).forEach((k, v) -> e.put(Keys.envName(k), v));
    for (int i = 0; i < kv.length; i += 2) {
      e.put(kv[i], kv[i + 1]);
    }
    return e;
  }

  @Test
  void loopbackByDefaultWithoutToken() throws Exception {
    Settings s = SettingsLoader.load(null, env());
    assertThat(s.admin()).isEqualTo(new Settings.Admin(true, "127.0.0.1", 8025, null));
    assertThat(SettingsLoader.describe(s)).contains("admin.listen = 127.0.0.1:8025").contains("admin.token = (not set)");
  }

  @Test
  void offDisablesTheListener() throws Exception {
    assertThat(SettingsLoader.load(null, env("RELAY365_ADMIN_LISTEN", "off")).admin().enabled()).isFalse();
  }

  @Test
  void aNetworkAddressWithoutATokenIsRefused() throws Exception {
    ConfigException e = TestConfigs.failure(null, env("RELAY365_ADMIN_LISTEN", "0.0.0.0:8025"));
    assertThat(e.getMessage()).startsWith("admin.listen").contains("admin.token-file");
  }

  @Test
  void aNetworkAddressWithATokenFileIsAcceptedAndTheTokenNeverShown() throws Exception {
    Path token = Files.writeString(dir.resolve("admin-token"), "0123456789abcdef0123456789abcdef\n");
    Settings s = SettingsLoader.load(null, env("RELAY365_ADMIN_LISTEN", "0.0.0.0:9100",
        "RELAY365_ADMIN_TOKEN_FILE", token.toString()));
    assertThat(s.admin().token().reveal()).isEqualTo("0123456789abcdef0123456789abcdef");
    assertThat(SettingsLoader.describe(s)).contains("admin.token = ********")
        .doesNotContain("0123456789abcdef0123456789abcdef");
  }

  @Test
  void aShortTokenIsRefusedWithoutEchoingIt() throws Exception {
    ConfigException e = TestConfigs.failure(null, env("RELAY365_ADMIN_TOKEN", "short-secret"));
    assertThat(e.getMessage()).startsWith("admin.token").contains("16 characters").doesNotContain("short-secret");
  }

  @Test
  void secretExpiryAcceptsAnUnquotedYamlDate() throws Exception {
    Path f = TestConfigs.writeText(dir, "microsoft:\n  secret-expires: 2027-06-30\n");
    assertThat(SettingsLoader.load(f, env()).microsoft().secretExpires()).isEqualTo(LocalDate.of(2027, 6, 30));
    Path quoted = TestConfigs.writeText(dir, "microsoft:\n  secret-expires: \"2027-06-30\"\n");
    assertThat(SettingsLoader.load(quoted, env()).microsoft().secretExpires()).isEqualTo(LocalDate.of(2027, 6, 30));
    ConfigException bad = TestConfigs.failure(null, env("RELAY365_MICROSOFT_SECRET_EXPIRES", "30.06.2027"));
    assertThat(bad.getMessage()).startsWith("microsoft.secret-expires").contains("YYYY-MM-DD");
  }
}
