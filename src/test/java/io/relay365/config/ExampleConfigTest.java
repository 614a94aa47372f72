package io.relay365.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** conf/relay365.yaml is the sysadmin's reference: it must list every setting and load as shipped. */
class ExampleConfigTest {
  static final Path EXAMPLE = Path.of("conf/relay365.yaml");
  /** "key:" or "#key:" (an optional setting shown with its default); "# text" is prose. */
  private static final Pattern KEY_LINE = Pattern.compile("^( *)#?([a-z][a-z0-9.-]*):( .*)?$");

  @TempDir Path dir;

  @Test
  void documentsEveryKnownKeyAndNothingElse() throws Exception {
    Set<String> documented = documentedKeys();

    assertThat(documented).containsAll(Keys.ALL);
    for (String k : documented) {
      assertThat(Keys.isKnown(k) || Keys.SECTIONS.contains(k)).as("%s in the example is not a setting", k).isTrue();
    }
  }

  @Test
  void shippedExampleStopsAtThePlaceholderWithTheFix() {
    ConfigException e = TestConfigs.failure(EXAMPLE, Map.of());

    assertThat(e.key()).isEqualTo("microsoft.tenant-id");
    assertThat(e.getMessage()).contains("still the placeholder").contains("Entra admin center → Overview");
  }

  @Test
  void exampleWithRealValuesLoadsToTheDefaults() throws Exception {
    Map<String, String> env = new java.util.HashMap<>(Map.of(
        "RELAY365_MICROSOFT_TENANT_ID", TestConfigs.TENANT,
        "RELAY365_MICROSOFT_CLIENT_ID", TestConfigs.CLIENT));
    assertThat(TestConfigs.failure(EXAMPLE, env).getMessage())
        .as("the example's secret file does not exist here").contains("LoadCredential=");

    TestConfigs.base(dir);
    env.put("RELAY365_MICROSOFT_CLIENT_SECRET_FILE", dir.resolve("client-secret").toString());
    env.put("HOSTNAME", "relay.example.com");

    Settings fromExample = SettingsLoader.load(EXAMPLE, env);
    Settings fromNothing = SettingsLoader.load(null, env);

    assertThat(SettingsLoader.describe(fromExample)).isEqualTo(SettingsLoader.describe(fromNothing));
  }

  @Test
  void exampleValuesOfCommentedSettingsAreValid() throws Exception {
    // Uncommenting any one "#key: value" line must give a working configuration (the map as a whole).
    List<String> lines = Files.readAllLines(EXAMPLE);
    TestConfigs.base(dir);
    Map<String, String> env = Map.of(
        "RELAY365_MICROSOFT_TENANT_ID", TestConfigs.TENANT,
        "RELAY365_MICROSOFT_CLIENT_ID", TestConfigs.CLIENT,
        "RELAY365_MICROSOFT_CLIENT_SECRET_FILE", dir.resolve("client-secret").toString());
    Set<String> skip = Set.of("client-secret", "file", "key-file", "password", "password-file", "ca-file", "token-file",
        "fixed-mailbox", "map", "default-mailbox",
        // need a certificate or a users file to exist (SmtpGuardsTest covers them)
        "cert-file", "implicit-listen", "users-file", "without-tls-networks", "failure-delay", "allowed-senders");
    int tried = 0;
    for (int i = 0; i < lines.size(); i++) {
      Matcher m = KEY_LINE.matcher(lines.get(i));
      if (m.matches() && lines.get(i).strip().startsWith("#") && !skip.contains(m.group(2))) {
        List<String> copy = new java.util.ArrayList<>(lines);
        copy.set(i, lines.get(i).replaceFirst("#", ""));
        Path f = dir.resolve("example-" + i + ".yaml");
        Files.write(f, copy);
        assertThat(SettingsLoader.load(f, env)).as(lines.get(i)).isNotNull();
        tried++;
      }
    }
    assertThat(tried).isGreaterThan(15);
  }

  static Set<String> documentedKeys() throws Exception {
    Set<String> keys = new LinkedHashSet<>();
    Deque<int[]> indents = new ArrayDeque<>();
    Deque<String> names = new ArrayDeque<>();
    for (String line : Files.readAllLines(EXAMPLE)) {
      Matcher m = KEY_LINE.matcher(line);
      if (!m.matches()) {
        continue;
      }
      int indent = m.group(1).length();
      while (!indents.isEmpty() && indents.peek()[0] >= indent) {
        indents.pop();
        names.pop();
      }
      String parent = names.isEmpty() ? "" : names.peek() + ".";
      String key = parent + m.group(2);
      if (parent.equals(Keys.MAP_KEY + ".")) {
        continue; // an entry of sender.map, not a setting
      }
      keys.add(key);
      indents.push(new int[] {indent});
      names.push(key);
    }
    return keys;
  }
}
