package io.relay365.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.relay365.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The README's first command, on each transport: the demo's message goes the whole way (SMTP in, spool,
 * token, transport, sandbox) and the printout says what Exchange received, the hidden recipient only as Bcc.
 */
class DemoCommandTest {
  @TempDir
  Path dir;

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();
  private PrintStream oldOut;
  private PrintStream oldErr;

  @BeforeEach
  void capture() {
    oldOut = System.out;
    oldErr = System.err;
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  @AfterEach
  void restore() {
    System.setOut(oldOut);
    System.setErr(oldErr);
  }

  @ParameterizedTest
  @ValueSource(strings = {"ews", "graph", "smtp-oauth"})
  void demoDeliversThroughEachTransportAndSaysWhatExchangeReceived(String transport) throws Exception {
    int exit = Main.run("demo", "--transport", transport, "--dir", dir.toString());
    String printed = out.toString(StandardCharsets.UTF_8);
    assertThat(exit).as(printed + err.toString(StandardCharsets.UTF_8)).isZero();
    assertThat(printed).contains("delivery.transport " + transport)
        .contains("mailbox      " + DemoCommand.SENDER)
        .contains("Bcc (envelope only): " + DemoCommand.HIDDEN)
        .contains("subject      Scan vom Kopierer – Grüße aus dem 3. Stock");
    switch (transport) {
      case "ews" -> assertThat(printed).contains("EWS CreateItem").contains("SendAndSaveCopy");
      case "graph" -> assertThat(printed).contains("Microsoft Graph").contains("/sendMail");
      default -> assertThat(printed).contains("AUTH XOAUTH2").contains("MAIL FROM:<" + DemoCommand.SENDER + ">")
          .contains(DemoCommand.HIDDEN);
    }
    try (Stream<Path> emls = Files.list(dir.resolve("sandbox/mail"))) {
      Path eml = emls.filter(p -> p.toString().endsWith(".eml")).findFirst().orElseThrow();
      assertThat(Files.readString(eml, StandardCharsets.ISO_8859_1)).as("what recipients see")
          .doesNotContain(DemoCommand.HIDDEN).contains("scan-0001.pdf");
    }
    try (Stream<Path> left = Files.list(dir.resolve("spool/queue"))) {
      // names starting with a dot are emptied entries parked for the next message, not mail
      List<Path> entries = left.toList();
      assertThat(entries).as("delivered, so nothing left in the queue")
          .allMatch(p -> p.getFileName().toString().startsWith(".free-"));
      for (Path parked : entries) {
        try (Stream<Path> files = Files.list(parked)) {
          assertThat(files.toList()).as("a delivered message's bytes do not stay on disk")
              .allMatch(f -> f.toFile().length() == 0);
        }
      }
    }
  }

  @Test
  void anUnknownTransportIsAUsageError() throws Exception {
    assertThat(Main.run("demo", "--transport", "imap", "--dir", dir.toString())).isEqualTo(64);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("--transport imap").contains("ews, graph, smtp-oauth");
  }
}
