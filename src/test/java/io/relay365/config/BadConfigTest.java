package io.relay365.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * One broken setting per case (chasquid's t-20-bad_configs): the relay must refuse to start with
 * one line naming the key and saying what to do, and never echo the secret.
 */
class BadConfigTest {
  @TempDir Path dir;

  /** name, change to the valid base (key -> raw YAML value, null removes), expected key, message fragment. */
  static Stream<Arguments> cases() {
    return Stream.of(
        bad("listen without port", "smtp.listen", "127.0.0.1", "smtp.listen", "has no port"),
        bad("bare IPv6 listen", "smtp.listen", "\"::1:2525\"", "smtp.listen", "IPv6 address without brackets"),
        bad("listen port too big", "smtp.listen", "127.0.0.1:70000", "smtp.listen", "0..65535"),
        bad("listen on *", "smtp.listen", "\"*:25\"", "smtp.listen", "0.0.0.0:25"),
        bad("misspelt key", "smtp.lisen", "127.0.0.1:2525", "smtp.lisen", "did you mean smtp.listen?"),
        bad("key outside its section", "listen", "127.0.0.1:2525", "listen", "did you mean smtp.listen?"),
        bad("underscores in key", "smtp.max_message_size", "10MB", "smtp.max_message_size",
            "did you mean smtp.max-message-size?"),
        bad("value for a section", "smtp", "2525", "smtp", "is a section"),
        bad("size with a word unit", "smtp.max-message-size", "35 megabytes", "smtp.max-message-size",
            "is not a size"),
        bad("size above Exchange's limit", "smtp.max-message-size", "200MB", "smtp.max-message-size", "150 MB"),
        bad("zero size", "smtp.max-message-size", "0", "smtp.max-message-size", "0 does not mean unlimited"),
        bad("recipients as text", "smtp.max-recipients", "many", "smtp.max-recipients", "is not a whole number"),
        bad("recipients out of range", "smtp.max-recipients", "5000", "smtp.max-recipients", "1..1000"),
        bad("connections as boolean", "smtp.max-connections", "yes", "smtp.max-connections",
            "is not a whole number"),
        bad("duration in words", "smtp.timeout", "5 minutes", "smtp.timeout", "is not a duration"),
        bad("zero duration", "delivery.min-backoff", "0", "delivery.min-backoff", "more than 0"),
        bad("lifetime beyond 60 days", "delivery.max-lifetime", "90d", "delivery.max-lifetime", "at most 60d"),
        bad("dsn as a word", "delivery.dsn", "maybe", "delivery.dsn", "is not true or false"),
        bad("dsn without postmaster", "delivery.dsn", "true", "delivery.postmaster", "delivery.dsn is true"),
        bad("postmaster not an address", "delivery.postmaster", "postmaster", "delivery.postmaster",
            "is not a mailbox address"),
        bad("max backoff below min", "delivery.max-backoff", "10s", "delivery.max-backoff", "shorter than"),
        bad("per-mailbox concurrency zero", "delivery.per-mailbox-concurrency", "0",
            "delivery.per-mailbox-concurrency", "1..1024"),
        bad("spool free disk in words", "spool.min-free-disk", "lots", "spool.min-free-disk", "is not a size"),
        bad("fractional duration", "ews.timeout", "1.5", "ews.timeout", "is not a duration"),
        bad("bad host name", "smtp.hostname", "\"relay host!\"", "smtp.hostname", "is not a host name"),
        bad("spool dir with tilde", "spool.dir", "~/spool", "spool.dir", "only a shell expands"),
        bad("tenant common", "microsoft.tenant-id", "common", "microsoft.tenant-id", "multi-tenant alias"),
        bad("tenant organizations", "microsoft.tenant-id", "organizations", "microsoft.tenant-id",
            "one specific tenant"),
        bad("tenant neither GUID nor domain", "microsoft.tenant-id", "\"contoso tenant\"", "microsoft.tenant-id",
            "neither a GUID nor a domain"),
        bad("tenant missing", "microsoft.tenant-id", null, "microsoft.tenant-id", "is missing"),
        bad("tenant placeholder", "microsoft.tenant-id", "\"<your-tenant-id>\"", "microsoft.tenant-id",
            "still the placeholder"),
        bad("client id not a GUID", "microsoft.client-id", "relay365-app", "microsoft.client-id", "is not a GUID"),
        bad("client id missing", "microsoft.client-id", null, "microsoft.client-id", "Application (client) ID"),
        bad("no credential", "microsoft.client-secret-file", null, "microsoft.client-secret-file",
            "no credential is configured"),
        bad("secret file missing", "microsoft.client-secret-file", "/nonexistent/relay365/secret",
            "microsoft.client-secret-file", "LoadCredential="),
        badWith("secret and certificate", d -> Map.of("microsoft.certificate.file", d.resolve("client-secret")
            .toString()), "microsoft.certificate.file", "keep exactly one credential"),
        badWith("secret twice", d -> Map.of("microsoft.client-secret", "\"other\""), "microsoft.client-secret",
            "together with microsoft.client-secret-file"),
        bad("login url over http", "microsoft.login-url", "http://login.microsoftonline.com",
            "microsoft.login-url", "https origin without a path"),
        bad("login url with tenant path", "microsoft.login-url", "https://login.microsoftonline.com/contoso",
            "microsoft.login-url", "the tenant and /oauth2/v2.0/token are added"),
        bad("ca file missing", "microsoft.ca-file", "/nonexistent/ca.pem", "microsoft.ca-file", "does not exist"),
        bad("scope without .default", "microsoft.scope", "https://outlook.office365.com", "microsoft.scope",
            "/.default"),
        bad("ews over http", "ews.url", "http://outlook.office365.com/EWS/Exchange.asmx", "ews.url",
            "https is required"),
        bad("ews without path", "ews.url", "https://outlook.office365.com", "ews.url", "EWS endpoint"),
        bad("unknown disposition", "ews.disposition", "save", "ews.disposition", "send-and-save-copy"),
        bad("too many workers", "ews.workers", "65", "ews.workers", "1..64"),
        bad("unknown sender mode", "sender.mode", "sometimes", "sender.mode", "from-header"),
        bad("fixed without mailbox", "sender.mode", "fixed", "sender.fixed-mailbox", "is missing"),
        bad("map without entries", "sender.mode", "map", "sender.map", "needs at least one entry"),
        badWith("fixed mailbox ignored", d -> Map.of("sender.fixed-mailbox", "scanner@example.com"),
            "sender.fixed-mailbox", "has no effect with sender.mode envelope"),
        badWith("map key not an address", d -> Map.of("sender.mode", "map", "sender.map",
            "{printer: scans@example.com}"), "sender.map", "neither an address nor @domain"),
        bad("mailbox not an address", "sender.default-mailbox", "noreply", "sender.default-mailbox",
            "not a mailbox address"),
        bad("concurrency zero", "delivery.concurrency", "0", "delivery.concurrency", "1..1024"),
        bad("unknown transport", "delivery.transport", "rest", "delivery.transport", "ews"),
        bad("graph over http", "graph.url", "http://graph.microsoft.com", "graph.url", "https origin"),
        bad("graph with a path", "graph.url", "https://graph.microsoft.com/v1.0", "graph.url", "without a path"),
        bad("graph request limit not a size", "graph.max-request-size", "lots", "graph.max-request-size", "4MB"),
        bad("graph request limit too small", "graph.max-request-size", "1KB", "graph.max-request-size", "64KB"),
        bad("smtp-oauth without port", "smtp-oauth.server", "smtp.office365.com", "smtp-oauth.server", "no port"),
        bad("smtp-oauth port 0", "smtp-oauth.server", "smtp.office365.com:0", "smtp-oauth.server", "port 0"),
        bad("smtp-oauth as a URL", "smtp-oauth.server", "smtp://smtp.office365.com:587", "smtp-oauth.server",
            "without a scheme"),
        bad("smtp-oauth without host", "smtp-oauth.server", ":587", "smtp-oauth.server", "names no host"),
        bad("graph port out of range", "graph.url", "https://graph.microsoft.com:99999", "graph.url", "https origin"),
        badWith("EWS scope left with graph", d -> Map.of("delivery.transport", "graph", "microsoft.scope",
            "https://outlook.office365.com/.default"), "microsoft.scope", "delivery.transport is graph"),
        badWith("Graph scope with smtp-oauth", d -> Map.of("delivery.transport", "smtp-oauth", "microsoft.scope",
            "https://graph.microsoft.com/.default"), "microsoft.scope", "Microsoft Graph's resource"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void refusesWithKeyAndFix(String name, Function<Path, Map<String, String>> change, String key, String fragment)
      throws IOException {
    Map<String, String> config = TestConfigs.base(dir);
    change.apply(dir).forEach((k, v) -> {
      if (v == null) {
        config.remove(k);
      } else {
        config.put(k, v);
      }
    });
    ConfigException e = TestConfigs.failure(TestConfigs.write(dir, config), Map.of());

    assertThat(e.key()).isEqualTo(key);
    assertThat(e.getMessage()).startsWith(key + ": ").contains(fragment).doesNotContain(TestConfigs.SECRET);
  }

  @org.junit.jupiter.api.Test
  void tableHasAtLeastFifteenCases() {
    assertThat(cases().count()).isGreaterThanOrEqualTo(15);
  }

  private static Arguments bad(String name, String k, String v, String key, String fragment) {
    Function<Path, Map<String, String>> change = d -> {
      java.util.HashMap<String, String> m = new java.util.HashMap<>();
      m.put(k, v);
      return m;
    };
    return Arguments.of(name, change, key, fragment);
  }

  private static Arguments badWith(String name, Function<Path, Map<String, String>> change, String key,
      String fragment) {
    return Arguments.of(name, change, key, fragment);
  }
}
