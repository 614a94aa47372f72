package io.relay365.receive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.relay365.config.Settings;
import io.relay365.store.Admission;
import io.relay365.store.Spool;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The door at MAIL FROM: 452 4.3.1 when the spool is full, and a stop that lets transactions finish. */
class BackPressureTest {
  @TempDir
  Path dir;

  SmtpListener listener;

  @AfterEach
  void stop() {
    if (listener != null) {
      listener.close();
    }
  }

  static Settings.Smtp smtp() {
    return new Settings.Smtp("127.0.0.1", 0, "relay.test", 1024 * 1024, 100, 5, Duration.ofSeconds(30));
  }

  SmtpListener start(Spool spool, Admission admission) throws Exception {
    listener = new SmtpListener(smtp(), spool, e -> { }, admission);
    listener.start();
    return listener;
  }

  static void sendOne(SmtpDialog d) throws Exception {
    d.begin("scanner@contoso.example", "a@example.com");
    d.send("Subject: x").send("").send("body").send(".").expect("250 2.0.0 Ok: queued as ");
  }

  @Test
  void fullSpoolGets452AtMailFromAndKeepsWhatItHas() throws Exception {
    Spool spool = Spool.open(dir);
    start(spool, Admission.of(spool, 2, 0));
    try (SmtpDialog d = new SmtpDialog(listener.port())) {
      d.expect("220");
      d.send("EHLO dev").expect("250");
      sendOne(d);
      sendOne(d);
      assertThat(d.send("MAIL FROM:<scanner@contoso.example>").expect("452")).contains("4.3.1");
      // the session stays usable: the client may wait and try again
      d.send("NOOP").expect("250");
    }
    assertThat(spool.size()).as("nothing accepted is dropped").isEqualTo(2);
    assertThat(spool.queued()).hasSize(2);
  }

  @Test
  void lowFreeDiskGets452AndMailFlowsAgainWhenThereIsRoom() throws Exception {
    Spool spool = Spool.open(dir);
    AtomicReference<Admission> current = new AtomicReference<>(Admission.of(spool, 100, Long.MAX_VALUE));
    start(spool, () -> current.get().refusal());
    try (SmtpDialog d = new SmtpDialog(listener.port())) {
      d.expect("220");
      d.send("EHLO dev").expect("250");
      assertThat(d.send("MAIL FROM:<scanner@contoso.example>").expect("452")).contains("4.3.1");
      current.set(Admission.of(spool, 100, 1));
      sendOne(d);
    }
    assertThat(spool.size()).isEqualTo(1);
  }

  @Test
  void closeLetsATransactionInProgressFinishAndRefusesNewOnes() throws Exception {
    Spool spool = Spool.open(dir);
    start(spool, Admission.ALWAYS);
    try (SmtpDialog inData = new SmtpDialog(listener.port()); SmtpDialog late = new SmtpDialog(listener.port())) {
      inData.expect("220");
      inData.send("EHLO dev").expect("250");
      inData.begin("scanner@contoso.example", "a@example.com");
      inData.send("Subject: in progress").send("");
      late.expect("220");
      late.send("EHLO dev").expect("250");

      CompletableFuture<Void> closing = CompletableFuture.runAsync(() -> listener.close(Duration.ofSeconds(10)));
      await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
          assertThat(late.send("MAIL FROM:<x@contoso.example>").expect("421")).contains("4.3.2"));
      assertThat(closing).isNotDone();

      inData.send("line").send(".").expect("250 2.0.0 Ok: queued as ");
      closing.get(10, java.util.concurrent.TimeUnit.SECONDS);
    }
    assertThat(spool.size()).isEqualTo(1);
  }
}
