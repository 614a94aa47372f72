package io.relay365.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.relay365.store.Envelope;
import io.relay365.store.Incoming;
import io.relay365.store.QueueControl;
import io.relay365.store.Spool;
import io.relay365.store.SpoolLock;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** relay365 queue: readable output, and no change to a live queue except through the daemon. */
class QueueCommandTest {
  @TempDir
  Path dir;

  final ByteArrayOutputStream out = new ByteArrayOutputStream();
  final ByteArrayOutputStream err = new ByteArrayOutputStream();

  int run(String... args) {
    QueueCommand q = new QueueCommand();
    q.out = new PrintStream(out, true, StandardCharsets.UTF_8);
    q.err = new PrintStream(err, true, StandardCharsets.UTF_8);
    out.reset();
    err.reset();
    return new CommandLine(q).execute(args);
  }

  String out() {
    return out.toString(StandardCharsets.UTF_8);
  }

  Envelope put(Spool spool, String sender) throws Exception {
    try (Incoming in = spool.begin()) {
      in.body().write("Subject: scan\r\n\r\nx\r\n".getBytes(StandardCharsets.US_ASCII));
      return in.commit(sender, List.of("alice@example.com", "bob@example.com"), "10.0.0.7", "copier");
    }
  }

  @Test
  void listShowsAReadableTableAndShowEverything() throws Exception {
    Spool spool = Spool.open(dir);
    Envelope a = put(spool, "scanner@contoso.example");
    Envelope failed = put(spool, "fax@contoso.example");
    spool.update(failed.failed("ErrorServerBusy: The server cannot service this request right now",
        Instant.now().plus(Duration.ofMinutes(5))));

    assertThat(run("--spool", dir.toString(), "list")).isZero();
    String[] lines = out().split("\n");
    assertThat(lines[0]).contains("ID").contains("AGE").contains("SENDER").contains("MAILBOX").contains("RECIPIENTS")
        .contains("ATT").contains("NEXT TRY").contains("LAST ERROR");
    assertThat(out()).contains(a.id()).contains("scanner@contoso.example").contains("alice@example.com,bob@example.com")
        .contains("ErrorServerBusy").contains("in 4m").contains("2 message(s) queued");

    assertThat(run("show", failed.id(), "--spool", dir.toString())).as("options after the subcommand too").isZero();
    assertThat(out()).contains("attempts:    1").contains("client:      10.0.0.7 (copier)")
        .contains("Subject: scan");
    assertThat(run("--spool", dir.toString(), "show", "0nosuchid0000000")).isEqualTo(1);
  }

  @Test
  void withoutADaemonRetryAndDeleteActDirectly() throws Exception {
    Spool spool = Spool.open(dir);
    Envelope e = put(spool, "scanner@contoso.example");
    spool.update(e.failed("HTTP 503: down", Instant.now().plus(Duration.ofHours(1))));

    assertThat(run("--spool", dir.toString(), "retry", e.id())).isZero();
    assertThat(spool.read(e.id()).orElseThrow().nextAttempt()).as("due now").isNull();
    assertThat(run("--spool", dir.toString(), "delete", e.id())).isZero();
    assertThat(Files.exists(dir.resolve("queue").resolve(e.id()))).isFalse();
    assertThat(run("--spool", dir.toString(), "retry")).as("an ID or --all").isEqualTo(1);
  }

  @Test
  void whileTheDaemonRunsTheToolOnlyLeavesRequests() throws Exception {
    Spool spool = Spool.open(dir);
    Envelope e = put(spool, "scanner@contoso.example");
    try (SpoolLock daemon = SpoolLock.tryAcquire(dir).orElseThrow()) {
      // a stand-in for the daemon's control poll: it sees the request, checks the entry was untouched
      CompletableFuture<List<QueueControl.Request>> seen = CompletableFuture.supplyAsync(() -> {
        for (int i = 0; i < 200; i++) {
          List<QueueControl.Request> r = QueueControl.pending(spool);
          if (!r.isEmpty()) {
            assertThat(Files.exists(dir.resolve("queue").resolve(e.id()))).isTrue();
            r.forEach(x -> QueueControl.done(x.file()));
            return r;
          }
          try {
            Thread.sleep(20);
          } catch (InterruptedException ex) {
            throw new IllegalStateException(ex);
          }
        }
        return List.of();
      });
      assertThat(run("--spool", dir.toString(), "delete", e.id())).isZero();
      assertThat(seen.get()).extracting(QueueControl.Request::action, QueueControl.Request::id)
          .containsExactly(org.assertj.core.groups.Tuple.tuple(QueueControl.Action.DELETE, e.id()));
      assertThat(out()).contains("done by the running relay365");
      assertThat(Files.exists(dir.resolve("queue").resolve(e.id()))).as("the tool itself changed nothing").isTrue();
    }
  }

  @Test
  void deadListsGivenUpMessagesWithTheirReason() throws Exception {
    Spool spool = Spool.open(dir);
    Envelope e = put(spool, "scanner@contoso.example");
    spool.bury(e, "permanent ErrorMimeContentInvalid: bad MIME");
    assertThat(run("--spool", dir.toString(), "dead")).isZero();
    assertThat(out()).contains(e.id()).contains("ErrorMimeContentInvalid").contains("1 dead letter(s)");
    assertThat(run("--spool", dir.toString(), "show", e.id())).isZero();
    assertThat(out()).contains("(dead)").contains("dead reason:");
  }

  @Test
  void aDeadLetterCanBeRequeuedWithANewLifetimeOrDeletedForGood() throws Exception {
    Spool spool = Spool.open(dir);
    Envelope a = spool.bury(put(spool, "scanner@contoso.example"), "configuration ErrorNonExistentMailbox: fixed now");
    Envelope b = spool.bury(put(spool, "fax@contoso.example"), "permanent ErrorMimeContentInvalid: bad MIME");

    assertThat(run("--spool", dir.toString(), "retry", a.id())).isZero();
    Envelope back = spool.read(a.id()).orElseThrow();
    assertThat(back.attempts()).isZero();
    assertThat(back.nextAttempt()).as("due now").isNull();
    assertThat(back.arrived()).as("a new lifetime").isAfter(a.arrived());
    assertThat(back.lastError()).contains("requeued").contains("ErrorNonExistentMailbox");
    assertThat(spool.deadIds()).containsExactly(b.id());

    assertThat(run("--spool", dir.toString(), "delete", b.id())).isZero();
    assertThat(out()).contains("deleted dead letter " + b.id());
    assertThat(spool.deadIds()).isEmpty();
    assertThat(Files.list(dir.resolve("dead")).count()).as("nothing left behind").isZero();
  }

  @Test
  void whileTheDaemonRunsARequeueGoesThroughIt() throws Exception {
    Spool spool = Spool.open(dir);
    Envelope a = spool.bury(put(spool, "scanner@contoso.example"), "dead: max-lifetime");
    try (SpoolLock daemon = SpoolLock.tryAcquire(dir).orElseThrow()) {
      CompletableFuture<List<QueueControl.Request>> seen = CompletableFuture.supplyAsync(() -> {
        for (int i = 0; i < 200; i++) {
          List<QueueControl.Request> r = QueueControl.pending(spool);
          if (!r.isEmpty()) {
            r.forEach(x -> QueueControl.done(x.file()));
            return r;
          }
          try {
            Thread.sleep(20);
          } catch (InterruptedException ex) {
            throw new IllegalStateException(ex);
          }
        }
        return List.of();
      });
      assertThat(run("--spool", dir.toString(), "retry", a.id())).isZero();
      assertThat(seen.get()).extracting(QueueControl.Request::action, QueueControl.Request::id)
          .containsExactly(org.assertj.core.groups.Tuple.tuple(QueueControl.Action.REQUEUE, a.id()));
      assertThat(spool.deadIds()).as("the tool itself moved nothing").containsExactly(a.id());
    }
  }

  @Test
  void clientTextIsShownWithoutTerminalControlSequences() throws Exception {
    Spool spool = Spool.open(dir);
    Envelope e;
    try (Incoming in = spool.begin()) {
      in.body().write("Subject: x\u001b]0;owned\u0007\r\n\r\nx\r\n".getBytes(StandardCharsets.UTF_8));
      e = in.commit("scanner@contoso.example", List.of("alice@example.com"), "10.0.0.7", "x\u001b[2Jy");
    }
    assertThat(run("--spool", dir.toString(), "show", e.id())).isZero();
    assertThat(out()).contains("client:      10.0.0.7 (x?[2Jy)").doesNotContain("\u001b").doesNotContain("\u0007");
    assertThat(run("--spool", dir.toString(), "list")).isZero();
    assertThat(out()).doesNotContain("\u001b");
  }

  @Test
  void badIdsAndMissingSpoolsAreExplainedWithoutAStackTrace() throws Exception {
    Spool.open(dir);
    assertThat(run("--spool", dir.toString(), "show", "../../etc")).isEqualTo(1);
    assertThat(err.toString(StandardCharsets.UTF_8)).startsWith("relay365: ").doesNotContain("Exception")
        .doesNotContain("\tat ");
    assertThat(run("--spool", dir.resolve("nope").toString(), "list")).isEqualTo(1);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("does not exist").contains("--spool");
  }
}
