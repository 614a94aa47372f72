package io.relay365.config;

import static io.relay365.config.TestConfigs.CLIENT;
import static io.relay365.config.TestConfigs.SECRET;
import static io.relay365.config.TestConfigs.TENANT;
import static org.assertj.core.api.Assertions.assertThat;

import io.relay365.config.Settings.Disposition;
import io.relay365.config.Settings.SenderMode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SettingsLoaderTest {
  @TempDir Path dir;

  @Test
  void onlyRequiredKeysGiveTheDocumentedDefaults() throws Exception {
    Path file = TestConfigs.writeText(dir, "microsoft:\n"
        + "  tenant-id: " + TENANT + "\n"
        + "  client-id: " + CLIENT + "\n"
        + "  client-secret-file: " + dir.resolve("client-secret") + "\n");
    TestConfigs.base(dir); // writes the secret file

    Settings s = SettingsLoader.load(file, Map.of("HOSTNAME", "relay-test.example.com"));

    assertThat(s.smtp()).isEqualTo(new Settings.Smtp("127.0.0.1", 2525, "relay-test.example.com",
        35L * 1024 * 1024, 100, 50, Duration.ofMinutes(5)));
    assertThat(s.spool().dir()).isEqualTo(Path.of("/var/lib/relay365/spool"));
    assertThat(s.microsoft().tenantId()).isEqualTo(TENANT);
    assertThat(s.microsoft().clientId()).isEqualTo(CLIENT);
    assertThat(s.microsoft().clientSecret().reveal()).as("trailing newline of the file dropped").isEqualTo(SECRET);
    assertThat(s.microsoft().certificate()).isNull();
    assertThat(s.microsoft().loginUrl()).isEqualTo("https://login.microsoftonline.com");
    assertThat(s.microsoft().caFile()).isNull();
    assertThat(s.microsoft().scope()).isEqualTo("https://outlook.office365.com/.default");
    assertThat(s.microsoft().timeout()).isEqualTo(Duration.ofSeconds(30));
    assertThat(s.ews()).isEqualTo(new Settings.Ews("https://outlook.office365.com/EWS/Exchange.asmx",
        Disposition.SEND_AND_SAVE_COPY, 8, Duration.ofSeconds(100)));
    assertThat(s.sender()).isEqualTo(new Settings.Sender(SenderMode.ENVELOPE, null, Map.of(), null));
    assertThat(s.delivery()).isEqualTo(new Settings.Delivery(8, 4, 30, Duration.ofMinutes(1), Duration.ofMinutes(30),
        Duration.ofDays(5), false, null));
    assertThat(s.spool().maxMessages()).isEqualTo(10_000);
    assertThat(s.spool().minFreeDisk()).as("1.5 x smtp.max-message-size, as Postfix's queue_minfree")
        .isEqualTo(35L * 1024 * 1024 * 3 / 2);
  }

  @Test
  void transportDefaultsToEwsAndEachTransportGetsTheScopeOfItsResource() throws Exception {
    Map<String, String> base = TestConfigs.base(dir);
    Settings ews = SettingsLoader.load(TestConfigs.write(dir, base), Map.of());
    assertThat(ews.delivery().transport()).isEqualTo(Settings.TransportKind.EWS);
    assertThat(ews.graph()).isEqualTo(Settings.Graph.DEFAULT);
    assertThat(ews.smtpOauth()).isEqualTo(new Settings.SmtpOauth("smtp.office365.com", 587, Duration.ofSeconds(100)));

    Settings graph = SettingsLoader.load(TestConfigs.write(dir, base), Map.of("RELAY365_DELIVERY_TRANSPORT", "graph"));
    assertThat(graph.delivery().transport()).isEqualTo(Settings.TransportKind.GRAPH);
    assertThat(graph.microsoft().scope()).isEqualTo("https://graph.microsoft.com/.default");

    Settings smtp = SettingsLoader.load(TestConfigs.write(dir, base), Map.of("RELAY365_DELIVERY_TRANSPORT",
        "SMTP_OAUTH", "RELAY365_SMTP_OAUTH_SERVER", "smtp.office365.us:587", "RELAY365_EWS_URL",
        "https://outlook.office365.us/EWS/Exchange.asmx"));
    assertThat(smtp.delivery().transport()).isEqualTo(Settings.TransportKind.SMTP_OAUTH);
    assertThat(smtp.smtpOauth().host()).isEqualTo("smtp.office365.us");
    assertThat(smtp.microsoft().scope()).as("SMTP.SendAsApp is an Exchange Online role: the EWS resource")
        .isEqualTo("https://outlook.office365.us/.default");

    Settings cloud = SettingsLoader.load(TestConfigs.write(dir, base), Map.of("RELAY365_DELIVERY_TRANSPORT", "graph",
        "RELAY365_GRAPH_URL", "https://microsoftgraph.chinacloudapi.cn/"));
    assertThat(cloud.graph().url()).isEqualTo("https://microsoftgraph.chinacloudapi.cn");
    assertThat(cloud.microsoft().scope()).isEqualTo("https://microsoftgraph.chinacloudapi.cn/.default");
    assertThat(SettingsLoader.describe(cloud)).contains("delivery.transport = graph")
        .contains("graph.url = https://microsoftgraph.chinacloudapi.cn").contains("graph.max-request-size = 4MB");
    assertThat(cloud.graph().maxRequestSize()).isEqualTo(4L * 1024 * 1024);
    Settings limit = SettingsLoader.load(TestConfigs.write(dir, base), Map.of("RELAY365_GRAPH_MAX_REQUEST_SIZE",
        "3500KB"));
    assertThat(limit.graph().maxRequestSize()).isEqualTo(3500L * 1024);
  }

  @Test
  void hostnameDefaultNeedsNoDnsAndIsAlwaysAValidName() {
    assertThat(SettingsLoader.localHostName(Map.of("HOSTNAME", "mx1.example.com"))).isEqualTo("mx1.example.com");
    String fallback = SettingsLoader.localHostName(Map.of("HOSTNAME", "not a name"));
    assertThat(Values.isHostName(fallback)).as(fallback).isTrue();
  }

  @Test
  void everySettingParsedFromTheFile() throws Exception {
    Map<String, String> c = TestConfigs.base(dir);
    c.put("smtp.listen", "\"[::1]:0\"");
    c.put("smtp.hostname", "relay.example.com");
    c.put("smtp.max-message-size", "512KB");
    c.put("smtp.max-recipients", "250");
    c.put("smtp.max-connections", "7");
    c.put("smtp.timeout", "1m30s");
    c.put("spool.dir", "spool");
    c.put("microsoft.login-url", "https://login.microsoftonline.us/");
    c.put("microsoft.timeout", "250ms");
    c.put("ews.url", "https://outlook.office365.us:8443/EWS/Exchange.asmx");
    c.put("ews.disposition", "send-only");
    c.put("ews.workers", "2");
    c.put("ews.timeout", "2h");
    c.put("sender.mode", "map");
    c.put("sender.map", "{\"Printer@Example.com\": scans@example.com, \"@example.com\": noreply@example.com}");
    c.put("sender.default-mailbox", "noreply@example.com");
    c.put("delivery.concurrency", "3");
    c.put("delivery.per-mailbox-concurrency", "2");
    c.put("delivery.per-mailbox-rate", "10");
    c.put("delivery.min-backoff", "45");
    c.put("delivery.max-backoff", "1h");
    c.put("delivery.max-lifetime", "7d");
    c.put("delivery.dsn", "true");
    c.put("delivery.postmaster", "postmaster@example.com");
    c.put("spool.max-messages", "500");
    c.put("spool.min-free-disk", "1GB");

    Settings s = SettingsLoader.load(TestConfigs.write(dir, c), Map.of());

    assertThat(s.smtp()).isEqualTo(new Settings.Smtp("::1", 0, "relay.example.com", 512 * 1024, 250, 7,
        Duration.ofSeconds(90)));
    assertThat(s.spool().dir()).as("relative to the current directory").isEqualTo(Path.of("spool").toAbsolutePath());
    assertThat(s.microsoft().loginUrl()).isEqualTo("https://login.microsoftonline.us");
    assertThat(s.microsoft().timeout()).isEqualTo(Duration.ofMillis(250));
    assertThat(s.microsoft().scope()).as("derived from ews.url").isEqualTo("https://outlook.office365.us:8443/.default");
    assertThat(s.ews()).isEqualTo(new Settings.Ews("https://outlook.office365.us:8443/EWS/Exchange.asmx",
        Disposition.SEND_ONLY, 2, Duration.ofHours(2)));
    assertThat(s.sender().mode()).isEqualTo(SenderMode.MAP);
    assertThat(s.sender().map()).containsExactly(Map.entry("printer@example.com", "scans@example.com"),
        Map.entry("@example.com", "noreply@example.com"));
    assertThat(s.sender().defaultMailbox()).isEqualTo("noreply@example.com");
    assertThat(s.delivery()).isEqualTo(new Settings.Delivery(3, 2, 10, Duration.ofSeconds(45), Duration.ofHours(1),
        Duration.ofDays(7), true, "postmaster@example.com"));
    assertThat(s.spool().maxMessages()).isEqualTo(500);
    assertThat(s.spool().minFreeDisk()).isEqualTo(1024L * 1024 * 1024);
  }

  @Test
  void sizesUseBinaryMegabytes() {
    assertThat(Values.size("35MB")).isEqualTo(36_700_160L);
    assertThat(Values.size("36700160")).isEqualTo(36_700_160L);
    assertThat(Values.size("512kb")).isEqualTo(524_288L);
    assertThat(Values.size("1 MiB")).isEqualTo(1_048_576L);
    assertThat(Values.size("35 MBytes")).isNull();
    assertThat(Values.duration("250ms")).isEqualTo(Duration.ofMillis(250));
    assertThat(Values.duration("PT5M")).isEqualTo(Duration.ofMinutes(5));
    assertThat(Values.duration("5x")).isNull();
  }

  @Test
  void environmentWinsOverTheFile() throws Exception {
    Map<String, String> c = TestConfigs.base(dir);
    c.put("smtp.listen", "127.0.0.1:2525");
    c.put("ews.workers", "4");
    Path file = TestConfigs.write(dir, c);

    Settings s = SettingsLoader.load(file, Map.of(
        "RELAY365_SMTP_LISTEN", "0.0.0.0:25",
        "RELAY365_EWS_WORKERS", "16",
        "RELAY365_SMTP_MAX_MESSAGE_SIZE", "10MB",
        "RELAY365_DELIVERY_MIN_BACKOFF", "30s",
        "RELAY365_DELIVERY_DSN", "false",
        "PATH", "/usr/bin"));

    assertThat(s.smtp().listenHost()).isEqualTo("0.0.0.0");
    assertThat(s.smtp().listenPort()).isEqualTo(25);
    assertThat(s.smtp().maxMessageSize()).isEqualTo(10L * 1024 * 1024);
    assertThat(s.ews().workers()).isEqualTo(16);
    assertThat(s.delivery().minBackoff()).isEqualTo(Duration.ofSeconds(30));
    assertThat(s.delivery().dsn()).isFalse();
  }

  @Test
  void environmentTextThatLooksLikeANumberStaysText() throws Exception {
    // In YAML an unquoted 00123 would be read as the octal number 83; from the environment it is text.
    Map<String, String> env = required();
    env.remove("RELAY365_MICROSOFT_CLIENT_SECRET_FILE");
    env.put("RELAY365_MICROSOFT_CLIENT_SECRET", "00123");
    env.put("RELAY365_SENDER_MODE", "fixed");
    env.put("RELAY365_SENDER_FIXED_MAILBOX", "0123@example.com");
    env.put("RELAY365_SMTP_MAX_RECIPIENTS", "0250");

    Settings s = SettingsLoader.load(null, env);

    assertThat(s.microsoft().clientSecret().reveal()).isEqualTo("00123");
    assertThat(s.sender().fixedMailbox()).isEqualTo("0123@example.com");
    assertThat(s.smtp().maxRecipients()).isEqualTo(250);
  }

  @Test
  void ambiguousUnderscoresResolveAgainstTheKnownKeys() throws Exception {
    // RELAY365_MICROSOFT_CLIENT_SECRET_FILE could be split as client.secret.file or client-secret + _FILE:
    // it must be microsoft.client-secret-file, i.e. a path whose contents become the secret.
    TestConfigs.base(dir);
    Map<String, String> env = new HashMap<>();
    env.put("RELAY365_MICROSOFT_TENANT_ID", TENANT);
    env.put("RELAY365_MICROSOFT_CLIENT_ID", CLIENT);
    env.put("RELAY365_MICROSOFT_CLIENT_SECRET_FILE", dir.resolve("client-secret").toString());
    env.put("RELAY365_SMTP_MAX_CONNECTIONS", "9");

    Settings s = SettingsLoader.load(null, env);

    assertThat(s.microsoft().clientSecret().reveal()).isEqualTo(SECRET);
    assertThat(s.smtp().maxConnections()).isEqualTo(9);
    assertThat(Keys.BY_ENV).containsEntry("RELAY365_MICROSOFT_CERTIFICATE_KEY_FILE", "microsoft.certificate.key-file")
        .containsEntry("RELAY365_MICROSOFT_CLIENT_SECRET_FILE", "microsoft.client-secret-file")
        .containsEntry("RELAY365_MICROSOFT_CLIENT_SECRET", "microsoft.client-secret")
        .hasSize(Keys.ALL.size());
  }

  @Test
  void emptyVariableUnsetsTheFilesValue() throws Exception {
    Path file = TestConfigs.write(dir, TestConfigs.base(dir));
    Map<String, String> env = Map.of(
        "RELAY365_MICROSOFT_CLIENT_SECRET_FILE", "",
        "RELAY365_MICROSOFT_CLIENT_SECRET", "from-the-environment");

    Settings s = SettingsLoader.load(file, env);

    assertThat(s.microsoft().clientSecret().reveal()).isEqualTo("from-the-environment");
  }

  @Test
  void senderMapFromTheEnvironment() throws Exception {
    Map<String, String> env = required();
    env.put("RELAY365_SENDER_MODE", "map");
    env.put("RELAY365_SENDER_MAP", "printer@example.com=scans@example.com, @Example.COM=noreply@example.com,");

    Settings s = SettingsLoader.load(null, env);

    assertThat(s.sender().map()).containsExactly(Map.entry("printer@example.com", "scans@example.com"),
        Map.entry("@example.com", "noreply@example.com"));

    env.put("RELAY365_SENDER_MAP", "printer@example.com");
    assertThat(TestConfigs.failure(null, env).getMessage())
        .contains("sender.map").contains("(from RELAY365_SENDER_MAP)").contains("address=mailbox");
  }

  @Test
  void badEnvironmentValueSaysWhichVariable() throws Exception {
    Map<String, String> env = required();
    env.put("RELAY365_SMTP_LISTEN", "2525");

    ConfigException e = TestConfigs.failure(null, env);

    assertThat(e.key()).isEqualTo("smtp.listen");
    assertThat(e.getMessage()).contains("\"2525\" (from RELAY365_SMTP_LISTEN)").contains("127.0.0.1:2525");
  }

  @Test
  void misspeltVariableIsRefusedButTheConfigPathVariableIsNot() throws Exception {
    Map<String, String> env = required();
    env.put("RELAY365_CONFIG", "/etc/relay365/relay365.yaml");
    assertThat(SettingsLoader.load(null, env)).isNotNull();

    env.put("RELAY365_SMTP_LISTN", "0.0.0.0:25");
    ConfigException e = TestConfigs.failure(null, env);
    assertThat(e.key()).isEqualTo("RELAY365_SMTP_LISTN");
    assertThat(e.getMessage()).contains("did you mean RELAY365_SMTP_LISTEN (smtp.listen)?");
  }

  @Test
  void secretNeverAppearsInMessagesOrDescribe() throws Exception {
    List<String> yamls = List.of(
        // the secret pasted where the IDs go
        "microsoft: {tenant-id: \"" + SECRET + "\", client-id: " + CLIENT + ", client-secret: x}",
        "microsoft: {tenant-id: " + TENANT + ", client-id: \"" + SECRET + "\", client-secret: x}",
        // a syntax error on the secret's own line (snakeyaml's message would quote that line)
        "microsoft:\n  tenant-id: " + TENANT + "\n  client-secret: \"" + SECRET + "\n  client-id: x\n",
        "microsoft:\n  tenant-id: " + TENANT + "\n  client-secret: " + SECRET + ": x\n",
        // the secret as a list, and next to an error elsewhere
        "microsoft:\n  tenant-id: " + TENANT + "\n  client-id: " + CLIENT + "\n  client-secret: [" + SECRET + "]\n",
        "microsoft:\n  tenant-id: " + TENANT + "\n  client-id: " + CLIENT + "\n  client-secret: " + SECRET
            + "\nsmtp: {listen: nowhere}\n");
    for (String yaml : yamls) {
      ConfigException e = TestConfigs.failure(TestConfigs.writeText(dir, yaml), Map.of());
      assertThat(e.getMessage()).as(yaml).doesNotContain(SECRET).doesNotContain(SECRET.substring(0, 12));
    }
    // a secret that YAML reads as a number: neither its text nor YAML's reading of it is shown
    ConfigException n = TestConfigs.failure(TestConfigs.writeText(dir, "microsoft: {tenant-id: " + TENANT
        + ", client-id: " + CLIENT + ", client-secret: 0123}"), Map.of());
    assertThat(n.key()).isEqualTo("microsoft.client-secret");
    assertThat(n.getMessage()).contains("put the value in quotes").doesNotContain("0123").doesNotContain("83");

    Map<String, String> env = required();
    env.put("RELAY365_MICROSOFT_CLIENT_SECRET_FILE", "");
    env.put("RELAY365_MICROSOFT_CLIENT_SECRET", SECRET);
    String described = SettingsLoader.describe(SettingsLoader.load(null, env));
    assertThat(described).doesNotContain(SECRET).contains("microsoft.client-secret = ********");
  }

  @Test
  void describePrintsEveryEffectiveSettingOnePerLine() throws Exception {
    Map<String, String> env = required();
    env.put("RELAY365_SMTP_LISTEN", "[::]:2525");
    String d = SettingsLoader.describe(SettingsLoader.load(null, env));

    for (String key : Keys.ALL) {
      if (!key.endsWith("-file") || key.equals("microsoft.certificate.key-file") || key.equals("microsoft.ca-file")) {
        assertThat(d).as(key).containsPattern("(?m)^" + java.util.regex.Pattern.quote(key) + " = .+$");
      }
    }
    assertThat(d.lines()).allMatch(l -> l.matches("[a-z.-]+ = .+"));
    assertThat(d).contains("smtp.listen = [::]:2525", "smtp.max-message-size = 35MB (36700160 bytes)",
        "smtp.timeout = 5m", "ews.disposition = send-and-save-copy", "microsoft.ca-file = (not set)");
  }

  @Test
  void yamlSyntaxErrorNamesFileAndLine() throws Exception {
    Path file = TestConfigs.writeText(dir, "smtp:\n  listen: 127.0.0.1:2525\n   hostname: x\n");

    ConfigException e = TestConfigs.failure(file, Map.of());

    assertThat(e.getMessage()).startsWith(file + ": line 3, column ").contains("not valid YAML")
        .contains("indentation");
    ConfigException at = TestConfigs.failure(TestConfigs.writeText(dir,
        "sender:\n  map:\n    @example.com: a@example.com\n"), Map.of());
    assertThat(at.getMessage()).contains("line 3").contains("\"@example.com\"");
    ConfigException v6 = TestConfigs.failure(TestConfigs.writeText(dir, "smtp:\n  listen: [::1]:2525\n"), Map.of());
    assertThat(v6.getMessage()).contains("line 2").contains("listen: \"[::1]:2525\"");
  }

  @Test
  void aSectionOrKeyWrittenTwiceIsRefusedNotSilentlyReplaced() throws Exception {
    TestConfigs.base(dir);
    String ms = "microsoft:\n  tenant-id: " + TENANT + "\n  client-id: " + CLIENT + "\n  client-secret-file: "
        + dir.resolve("client-secret") + "\n";
    // the second smtp: block would otherwise replace the first, and with it the narrowed allowed-networks
    Path twice = TestConfigs.writeText(dir, "smtp:\n  max-recipients: 5\n  allowed-networks: [127.0.0.1/32]\n"
        + ms + "smtp:\n  timeout: 1m\n");
    ConfigException e = TestConfigs.failure(twice, Map.of());
    assertThat(e.getMessage()).startsWith(twice + ": line 8: smtp appears twice").contains("merge");

    Path key = TestConfigs.writeText(dir, ms + "  tenant-id: " + TENANT + "\n");
    assertThat(TestConfigs.failure(key, Map.of()).getMessage()).contains("tenant-id appears twice");
  }

  @Test
  void missingFileAndNonMappingFileAreExplained() throws Exception {
    assertThat(TestConfigs.failure(dir.resolve("nope.yaml"), Map.of()).getMessage()).contains("nope.yaml")
        .contains("does not exist");
    assertThat(TestConfigs.failure(TestConfigs.writeText(dir, "- smtp\n- ews\n"), Map.of()).getMessage())
        .contains("top level must be a mapping");
  }

  @Test
  void commentOnlyFileAndEmptySectionsMeanDefaults() throws Exception {
    TestConfigs.base(dir);
    Path file = TestConfigs.writeText(dir, "# nothing yet\n");
    Settings s = SettingsLoader.load(file, required());
    assertThat(s.smtp().listenPort()).isEqualTo(2525);

    Files.writeString(file, "smtp:\n  #listen: 1.2.3.4:25\ndelivery:\n", StandardCharsets.UTF_8);
    assertThat(SettingsLoader.load(file, required()).smtp().listenPort()).isEqualTo(2525);
  }

  @Test
  void nestedAndDottedFormsAreTheSameKey() throws Exception {
    Map<String, String> env = required();
    Path file = TestConfigs.writeText(dir, "smtp:\n  listen: 127.0.0.1:2600\nsmtp.listen: 127.0.0.1:2700\n");
    assertThat(TestConfigs.failure(file, env).getMessage()).startsWith("smtp.listen: is set twice");
  }

  @Test
  void secretFileOfSeveralLinesIsRefusedWithoutShowingIt() throws Exception {
    Path f = dir.resolve("two-lines");
    Files.writeString(f, SECRET + "\nsecond line\n");
    Map<String, String> env = required();
    env.put("RELAY365_MICROSOFT_CLIENT_SECRET_FILE", f.toString());
    ConfigException e = TestConfigs.failure(null, env);
    assertThat(e.getMessage()).contains("more than one line").doesNotContain(SECRET);
    Files.writeString(f, "\n");
    assertThat(TestConfigs.failure(null, env).getMessage()).contains("is empty");
  }

  /** The required settings in the environment, the secret file in dir. */
  private Map<String, String> required() throws Exception {
    TestConfigs.base(dir);
    Map<String, String> env = new HashMap<>();
    env.put("RELAY365_MICROSOFT_TENANT_ID", TENANT);
    env.put("RELAY365_MICROSOFT_CLIENT_ID", CLIENT);
    env.put("RELAY365_MICROSOFT_CLIENT_SECRET_FILE", dir.resolve("client-secret").toString());
    return env;
  }
}
