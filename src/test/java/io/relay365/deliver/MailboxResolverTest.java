package io.relay365.deliver;

import static org.assertj.core.api.Assertions.assertThat;

import io.relay365.config.Settings;
import io.relay365.config.Settings.SenderMode;
import io.relay365.store.Envelope;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class MailboxResolverTest {
  private static final Map<String, String> MAP = Map.of(
      "Scanner@Branch.example", "scans@contoso.com",
      "@branch.example", "branch@contoso.com",
      "@CONTOSO.com", "noreply@contoso.com");

  private static Settings.Sender sender(SenderMode mode, String fixed, String def) {
    return new Settings.Sender(mode, fixed, MAP, def);
  }

  private static Envelope env(String from) {
    return new Envelope(Envelope.FORMAT_VERSION, "id1", from, List.of("rcpt@example.com"), "10.0.0.9", "printer",
        Instant.EPOCH, 10, 0, null, null);
  }

  private static MessageHeaders headers(String from) {
    String h = (from == null ? "" : "From: " + from + "\r\n") + "Subject: x\r\n\r\nbody";
    return MessageHeaders.parse(h.getBytes(StandardCharsets.UTF_8));
  }

  static Stream<Arguments> table() {
    String def = "relay@contoso.com";
    return Stream.of(
        // mode, fixed, default, MAIL FROM, From: header, expected mailbox (or null), expected failure text
        Arguments.of(SenderMode.ENVELOPE, null, null, "dev@contoso.com", null, "dev@contoso.com", null),
        Arguments.of(SenderMode.ENVELOPE, null, def, "", null, def, null),
        Arguments.of(SenderMode.ENVELOPE, null, null, "", null, null, "null sender and no sender.default-mailbox"),
        Arguments.of(SenderMode.FROM_HEADER, null, null, "x@y", "\"Lobby, Printer\" <printer@contoso.com>",
            "printer@contoso.com", null),
        Arguments.of(SenderMode.FROM_HEADER, null, null, "", "=?UTF-8?Q?Dr=C3=BCcker?= <p@contoso.com>",
            "p@contoso.com", null),
        Arguments.of(SenderMode.FROM_HEADER, null, def, "x@y", null, def, null),
        Arguments.of(SenderMode.FROM_HEADER, null, null, "x@y", "Undisclosed:;", null, "From: header"),
        Arguments.of(SenderMode.FIXED, "fixed@contoso.com", null, "x@y", "a@b", "fixed@contoso.com", null),
        Arguments.of(SenderMode.FIXED, "fixed@contoso.com", null, "", null, "fixed@contoso.com", null),
        Arguments.of(SenderMode.MAP, null, null, "scanner@branch.EXAMPLE", null, "scans@contoso.com", null),
        Arguments.of(SenderMode.MAP, null, null, "other@Branch.example", null, "branch@contoso.com", null),
        Arguments.of(SenderMode.MAP, null, null, "a@contoso.com", null, "noreply@contoso.com", null),
        Arguments.of(SenderMode.MAP, null, null, "a@sub.branch.example", null, null, "sender.map"),
        Arguments.of(SenderMode.MAP, null, def, "a@elsewhere.example", null, def, null),
        Arguments.of(SenderMode.MAP, null, def, "", null, def, null),
        Arguments.of(SenderMode.MAP, null, null, "", null, null, "null sender and no sender.default-mailbox"));
  }

  @ParameterizedTest(name = "{0} MAIL FROM=<{3}> From={4}")
  @MethodSource("table")
  void resolves(SenderMode mode, String fixed, String def, String mailFrom, String fromHeader, String expected,
      String failure) {
    MailboxResolver.Resolution r = new MailboxResolver(sender(mode, fixed, def)).resolve(env(mailFrom),
        headers(fromHeader));
    if (expected != null) {
      assertThat(r.resolved()).isTrue();
      assertThat(r.mailbox()).isEqualTo(expected);
    } else {
      assertThat(r.resolved()).isFalse();
      assertThat(r.failure().kind()).isEqualTo(Outcome.Kind.CONFIGURATION);
      assertThat(r.failure().detail()).contains(failure);
    }
  }
}
