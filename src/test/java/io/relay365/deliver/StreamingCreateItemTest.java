package io.relay365.deliver;

import static org.assertj.core.api.Assertions.assertThat;

import io.relay365.config.Settings;
import io.relay365.config.SettingsLoader;
import io.relay365.sandbox.ReceivedMessage;
import io.relay365.sandbox.Sandbox;
import io.relay365.sandbox.SandboxOptions;
import io.relay365.store.Envelope;
import io.vertx.core.Vertx;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The two ways EwsTransport sends, against the sandbox (real HTTPS, real token): ews-java-api (every message
 * up to {@link EwsTransport#STREAM_ABOVE}) and the streamed CreateItem (larger ones, body read from the spool
 * file while it is sent). For the same spooled message Exchange gets byte for byte the same MIME, Bcc:
 * removed, the same BccRecipients, mailbox, X-AnchorMailbox and disposition, whichever way it went.
 */
class StreamingCreateItemTest {
  private static final String MAILBOX = "scanner@contoso.example";
  private static final MimeHygiene HYGIENE = new MimeHygiene(Charset.forName("windows-1252"));

  @TempDir
  static Path dir;
  private static Vertx vertx;
  private static Sandbox sandbox;
  private static MsalTokenSource tokenSource;
  /** Streams every message (threshold 0). */
  private static EwsTransport streamed;
  /** Sends every message through ews-java-api. */
  private static EwsTransport library;

  @BeforeAll
  static void start() throws Exception {
    vertx = Vertx.vertx();
    sandbox = Sandbox.start(vertx, new SandboxOptions().dataDir(dir.resolve("sandbox")).port(0))
        .await(60, TimeUnit.SECONDS);
    Settings settings = SettingsLoader.load(sandbox.writeRelayConfig(),
        Map.of("RELAY365_SPOOL_DIR", dir.resolve("spool").toString()));
    tokenSource = new MsalTokenSource(settings.microsoft());
    TokenCache tokens = new TokenCache(tokenSource, Clock.systemUTC());
    streamed = new EwsTransport(vertx, settings.ews(), tokens, settings.microsoft().caFile(), 0);
    library = new EwsTransport(vertx, settings.ews(), tokens, settings.microsoft().caFile(), Long.MAX_VALUE);
  }

  @AfterAll
  static void stop() throws Exception {
    streamed.close();
    library.close();
    tokenSource.close();
    sandbox.close().await(10, TimeUnit.SECONDS);
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  /** A scan-like message: headers (Bcc:, a windows-1252 subject), then {@code lines} base64-like lines. */
  private static byte[] message(int lines, String extraBodyLine) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(("Received: from copier by relay; Mon, 1 Jun 2026 10:00:00 +0000\r\n"
        + "From: Scanner <" + MAILBOX + ">\r\nTo: Alice <alice@contoso.example>\r\n"
        + "Bcc: hidden@example.com,\r\n secret@example.com\r\n"
        + "Date: Mon, 1 Jun 2026 10:00:00 +0000\r\nMessage-ID: <scan-1@copier.contoso.example>\r\n").getBytes(StandardCharsets.US_ASCII));
    out.writeBytes("Subject: Gr\u00fc\u00dfe vom Kopierer\r\n".getBytes(Charset.forName("windows-1252")));
    out.writeBytes(("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
        .getBytes(StandardCharsets.US_ASCII));
    byte[] line = ("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3"
        + "\r\n").getBytes(StandardCharsets.US_ASCII);
    for (int i = 0; i < lines; i++) {
      out.writeBytes(line);
      if (i == lines / 2 && extraBodyLine != null) {
        out.writeBytes(extraBodyLine.getBytes(StandardCharsets.US_ASCII));
      }
    }
    return out.toByteArray();
  }

  private ReceivedMessage deliver(EwsTransport transport, byte[] bytes, String name) throws Exception {
    Path file = Files.write(dir.resolve(name), bytes);
    Envelope env = new Envelope(Envelope.FORMAT_VERSION, name, MAILBOX,
        List.of("alice@contoso.example", "hidden@example.com", "secret@example.com"), "10.0.0.9", "copier",
        Instant.now(), bytes.length, 0, null, null);
    int before = sandbox.received().size();
    Outcome o = transport.send(new Submission(env, MAILBOX, file)).await(60, TimeUnit.SECONDS);
    assertThat(o.kind()).as(o.toString()).isEqualTo(Outcome.Kind.DELIVERED);
    List<ReceivedMessage> got = sandbox.received();
    assertThat(got).hasSize(before + 1);
    return got.get(got.size() - 1);
  }

  /** Sends the same message both ways; asserts Exchange got the same thing, and returns it. */
  private ReceivedMessage bothWays(byte[] original, String id) throws Exception {
    assertThat(streamed.streams(original.length)).isTrue();
    assertThat(library.streams(original.length)).isFalse();
    ReceivedMessage viaLibrary = deliver(library, original, id + "l");
    ReceivedMessage viaStream = deliver(streamed, original, id + "s");
    assertThat(viaStream.mime()).as("byte-identical MIME both ways").isEqualTo(viaLibrary.mime());
    assertThat(viaStream.bccRecipients()).isEqualTo(viaLibrary.bccRecipients());
    assertThat(viaStream.mailbox()).isEqualTo(viaLibrary.mailbox());
    assertThat(viaStream.anchorMailbox()).isEqualTo(viaLibrary.anchorMailbox());
    assertThat(viaStream.disposition()).isEqualTo(viaLibrary.disposition());
    return viaStream;
  }

  @Test
  void aLargeMessageStreamedFromTheSpoolArrivesByteIdenticalToTheLibraryPath() throws Exception {
    byte[] original = message(40_000, null); // ~3.2 MB
    Path probe = Files.write(dir.resolve("probe.eml"), original);
    assertThat(SpooledMime.streamableBodyStart(probe, original.length)).as("body read from the file").isPositive();

    ReceivedMessage r = bothWays(original, "1m900streamed0");

    byte[] expected = HYGIENE.clean(HiddenRecipients.stripBcc(original));
    assertThat(r.mime()).as("byte for byte what cleaning the whole message in memory gives").isEqualTo(expected);
    assertThat(new String(r.mime(), StandardCharsets.US_ASCII)).doesNotContain("hidden@example.com")
        .contains("Subject: =?UTF-8?");
    assertThat(r.bccRecipients()).containsExactly("hidden@example.com", "secret@example.com");
    assertThat(r.mailbox()).isEqualToIgnoringCase(MAILBOX);
    assertThat(r.anchorMailbox()).isEqualToIgnoringCase(MAILBOX);
  }

  @Test
  void aLargeMessageThatNeedsRepairsInItsBodyIsCleanedInMemoryAndStillIdentical() throws Exception {
    byte[] original = message(10_000, "x".repeat(2000) + "\r\n"); // a 2000-octet line: re-encoded (RFC 5322 2.1.1)
    Path probe = Files.write(dir.resolve("probe2.eml"), original);
    assertThat(SpooledMime.streamableBodyStart(probe, original.length)).isNegative();

    ReceivedMessage r = bothWays(original, "1m900inmemory0");

    assertThat(r.mime()).isEqualTo(HYGIENE.clean(HiddenRecipients.stripBcc(original)));
    assertThat(new String(r.mime(), StandardCharsets.US_ASCII)).contains("quoted-printable");
  }

  @Test
  void aSmallMessageIsIdenticalBothWays() throws Exception {
    ReceivedMessage r = bothWays(message(20, null), "1m900small0000");
    assertThat(r.bccRecipients()).containsExactly("hidden@example.com", "secret@example.com");
  }

  @Test
  void onlyMessagesAboveTheThresholdLeaveEwsJavaApi() throws Exception {
    Settings settings = SettingsLoader.load(sandbox.writeRelayConfig(),
        Map.of("RELAY365_SPOOL_DIR", dir.resolve("spool").toString()));
    EwsTransport normal = new EwsTransport(vertx, settings.ews(), new TokenCache(tokenSource, Clock.systemUTC()),
        settings.microsoft().caFile());
    try {
      assertThat(normal.streams(10_240)).isFalse();
      assertThat(normal.streams(EwsTransport.STREAM_ABOVE)).isFalse();
      assertThat(normal.streams(EwsTransport.STREAM_ABOVE + 1)).isTrue();
      assertThat(normal.streams(50L * 1024 * 1024)).isTrue();
    } finally {
      normal.close();
    }
  }

  @Test
  void theAnnouncedLengthIsTheLengthWritten() throws IOException {
    for (int n = 0; n < 7; n++) {
      byte[] mime = new byte[100_000 + n];
      EwsCreateItem req = new EwsCreateItem("a&b@contoso.example", Settings.Disposition.SEND_AND_SAVE_COPY,
          new EwsCreateItem.Mime() {
            @Override
            public long length() {
              return mime.length;
            }

            @Override
            public InputStream open() {
              return new java.io.ByteArrayInputStream(mime);
            }
          }, List.of("x<y>@example.com"));
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      req.writeTo(out);
      assertThat((long) out.size()).isEqualTo(req.length());
      String xml = out.toString(StandardCharsets.UTF_8);
      String b64 = xml.substring(xml.indexOf("<t:MimeContent CharacterSet=\"UTF-8\">") + 36,
          xml.indexOf("</t:MimeContent>"));
      assertThat(Base64.getDecoder().decode(b64)).isEqualTo(mime);
      assertThat(xml).contains("<t:SmtpAddress>a&amp;b@contoso.example</t:SmtpAddress>")
          .contains("<t:EmailAddress>x&lt;y&gt;@example.com</t:EmailAddress>");
    }
  }
}
