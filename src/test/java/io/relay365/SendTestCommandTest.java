package io.relay365;

import static org.assertj.core.api.Assertions.assertThat;

import io.relay365.cli.SendTestCommand;
import io.relay365.sandbox.ReceivedMessage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code relay365 send-test} against a running relay and the sandbox, through the real SMTP port and admin API. */
class SendTestCommandTest {
  static final String ADMIN_TOKEN = "send-test-admin-token-0123456789abcdef";

  @TempDir
  Path dir;
  RelayHarness h;
  final ByteArrayOutputStream out = new ByteArrayOutputStream();
  int smtpPort;
  int adminPort;

  @BeforeEach
  void start() throws Exception {
    h = new RelayHarness(dir);
    h.env.put("RELAY365_ADMIN_TOKEN", ADMIN_TOKEN);
    h.startSandbox().startRelay();
    smtpPort = h.smtpPort();
    adminPort = h.relay.adminPort();
  }

  @AfterEach
  void stop() throws Exception {
    h.close();
  }

  /** Runs send-test as a user would, with the relay's configuration (its real ports) in the environment. */
  int sendTest(String... args) throws Exception {
    SendTestCommand cmd = new SendTestCommand();
    Map<String, String> env = new HashMap<>(h.env);
    env.put("RELAY365_SMTP_LISTEN", "127.0.0.1:" + smtpPort);
    env.put("RELAY365_ADMIN_LISTEN", "127.0.0.1:" + adminPort);
    set(cmd, "environment", env);
    set(cmd, "out", new PrintStream(out, true, StandardCharsets.UTF_8));
    String[] all = new String[args.length + 2];
    all[0] = "--config";
    all[1] = dir.resolve("sandbox").resolve("relay-fragment.yaml").toString();
    System.arraycopy(args, 0, all, 2, args.length);
    return new CommandLine(cmd).execute(all);
  }

  private static void set(Object o, String field, Object value) throws Exception {
    Field f = o.getClass().getDeclaredField(field);
    f.setAccessible(true);
    f.set(o, value);
  }

  @Test
  void waitsUntilTheTestMessageIsDeliveredAndSaysAsWhichMailbox() throws Exception {
    int exit = sendTest("--to", "alice@contoso.example", "--from", "copier@contoso.example", "--timeout", "30");
    String printed = out.toString(StandardCharsets.UTF_8);
    assertThat(exit).as(printed).isZero();
    assertThat(printed).containsPattern("sent +copier@contoso.example -> alice@contoso.example through 127.0.0.1:\\d+,"
        + " queue id \\S+").contains("delivered as copier@contoso.example (attempt 1)");
    assertThat(h.sandbox.received()).hasSize(1);
    ReceivedMessage r = h.sandbox.received().get(0);
    assertThat(r.mailbox()).isEqualTo("copier@contoso.example");
    assertThat(r.subject()).startsWith("relay365 send-test ");
  }

  @Test
  void reportsADeferralWithItsReasonAndExit75() throws Exception {
    h.sandbox.faults().unknownMailbox("nobody@contoso.example");
    int exit = sendTest("--to", "alice@contoso.example", "--from", "nobody@contoso.example", "--timeout", "30");
    String printed = out.toString(StandardCharsets.UTF_8);
    assertThat(exit).as(printed).isEqualTo(75);
    assertThat(printed).contains("deferred ErrorNonExistentMailbox").contains("relay365 doctor");
  }

  @Test
  void saysSoWhenNoRelayIsListening() throws Exception {
    h.stopRelay();
    h.relay = null;
    int exit = sendTest("--to", "alice@contoso.example", "--from", "copier@contoso.example");
    assertThat(exit).isEqualTo(69);
  }
}
