package io.relay365.receive;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import org.junit.jupiter.api.Test;

class TraceHeadersTest {
  private static final ZonedDateTime NOW = ZonedDateTime.of(2025, 3, 7, 9, 5, 2, 0, ZoneOffset.ofHours(1));

  @Test
  void receivedFollowsRfc5321Section44() {
    String h = new String(TraceHeaders.received("printer.local", "192.0.2.7", "relay.test", "1m8ypt3kvwvxqht7",
        "a@example.com", NOW), US_ASCII);
    assertThat(h).isEqualTo("Received: from printer.local (192.0.2.7)\r\n"
        + "\tby relay.test (relay365) with ESMTP id 1m8ypt3kvwvxqht7; Fri, 7 Mar 2025 09:05:02 +0100\r\n");
  }

  @Test
  void neverNamesAnEnvelopeRecipientWhichMayBeAHiddenBcc() {
    String h = new String(TraceHeaders.received("printer.local", "192.0.2.7", "relay.test", "id",
        "hidden@partner.example", NOW), US_ASCII);
    assertThat(h).doesNotContain("hidden@partner.example").doesNotContain(" for ");
  }

  @Test
  void clientInputCannotInjectHeaderLines() {
    String h = new String(TraceHeaders.received("evil\r\nBcc: victim@example.com (x)", "::1", "relay.test", "id",
        "a@b>\r\nX-Injected: 1", NOW), US_ASCII);
    assertThat(h.split("\r\n")).hasSize(2);
    assertThat(h).contains("from evil__Bcc:_victim_example.com__x_ (::1)")
        .doesNotContain("X-Injected")
        .contains("; Fri, 7 Mar 2025");
    // unfolded, it is one line: nothing the client sent starts a field of its own
    assertThat(h.replace("\r\n\t", " ").stripTrailing()).doesNotContain("\r").doesNotContain("\n");
  }

  @Test
  void emptyHeloAndAddressLiteral() {
    assertThat(TraceHeaders.name("")).isEqualTo("unknown");
    assertThat(TraceHeaders.name("[192.0.2.1]")).isEqualTo("[192.0.2.1]");
    assertThat(TraceHeaders.name("x".repeat(300))).hasSize(255);
  }

  @Test
  void messageId() {
    assertThat(new String(TraceHeaders.messageId("qid", "r4nd", "relay.test"), US_ASCII))
        .isEqualTo("Message-ID: <qid.r4nd@relay.test>\r\n");
  }
}
