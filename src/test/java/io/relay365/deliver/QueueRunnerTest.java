package io.relay365.deliver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.relay365.MailEvents;
import io.relay365.config.Settings;
import io.relay365.store.Envelope;
import io.relay365.store.Incoming;
import io.relay365.store.QueueControl;
import io.relay365.store.Spool;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The queue manager against a scripted transport and a real spool on disk: what happens to mail after
 * each kind of outcome, and how limits and holds keep one mailbox from holding up the others.
 */
class QueueRunnerTest {
  @TempDir
  Path dir;

  final Vertx vertx = Vertx.vertx();
  Spool spool;
  QueueRunner runner;
  final Recorder events = new Recorder();
  final Fake transport = new Fake();

  @AfterEach
  void tearDown() throws Exception {
    if (runner != null) {
      runner.stop(Duration.ofSeconds(5)).await(10, java.util.concurrent.TimeUnit.SECONDS);
    }
    vertx.close().await(10, java.util.concurrent.TimeUnit.SECONDS);
  }

  /** Attempts the fake saw: mailbox, id, start time; answers come from {@link #script}. */
  static final class Fake implements Transport {
    record Call(String mailbox, String id, long at, byte[] message) {}

    final List<Call> calls = new CopyOnWriteArrayList<>();
    final Map<String, AtomicInteger> inFlight = new ConcurrentHashMap<>();
    final Map<String, Integer> maxInFlight = new ConcurrentHashMap<>();
    volatile Function<Submission, Outcome> script = s -> Outcome.success();
    volatile long latencyMs = 0;
    Vertx vertx;

    @Override
    public Future<Outcome> send(Submission s) {
      byte[] bytes;
      try {
        bytes = Files.readAllBytes(s.message());
      } catch (java.io.IOException e) {
        return Future.succeededFuture(Outcome.permanent("spool", "missing"));
      }
      calls.add(new Call(s.mailbox(), s.envelope().id(), System.currentTimeMillis(), bytes));
      int n = inFlight.computeIfAbsent(s.mailbox(), k -> new AtomicInteger()).incrementAndGet();
      maxInFlight.merge(s.mailbox(), n, Math::max);
      Promise<Outcome> p = Promise.promise();
      Outcome o = script.apply(s);
      Runnable done = () -> {
        inFlight.get(s.mailbox()).decrementAndGet();
        p.complete(o);
      };
      if (latencyMs > 0) {
        vertx.setTimer(latencyMs, t -> done.run());
      } else {
        done.run();
      }
      return p.future();
    }

    long count(String mailbox) {
      return calls.stream().filter(c -> c.mailbox().equals(mailbox)).count();
    }

    @Override
    public void close() {}
  }

  static final class Recorder implements MailEvents {
    final List<String> log = new CopyOnWriteArrayList<>();

    @Override
    public void delivered(Envelope e, String mailbox, Duration latency) {
      log.add("delivered " + e.id());
    }

    @Override
    public void deferred(Envelope e, String mailbox, Outcome o) {
      log.add("deferred " + e.id() + " " + o.code());
    }

    @Override
    public void dead(Envelope e, String reason) {
      log.add("dead " + e.id());
    }

    @Override
    public void possibleDuplicate(Envelope e) {
      log.add("duplicate " + e.id());
    }

    @Override
    public void alert(String key, String text) {
      log.add("alert " + key);
    }

    @Override
    public void alertCleared(String key) {
      log.add("cleared " + key);
    }

    boolean has(String s) {
      return log.contains(s);
    }
  }

  static Settings.Delivery delivery(int concurrency, int perMailbox, int rate, boolean dsn) {
    return new Settings.Delivery(concurrency, perMailbox, rate, Duration.ofMillis(300), Duration.ofSeconds(1),
        Duration.ofDays(5), dsn, dsn ? "postmaster@contoso.example" : null);
  }

  void start(Settings.Delivery d) throws Exception {
    start(d, new RetryPolicy(d.minBackoff(), d.maxBackoff(), d.maxLifetime(), () -> 0.5), Duration.ofMinutes(1));
  }

  void start(Settings.Delivery d, RetryPolicy policy, Duration rateWindow) throws Exception {
    transport.vertx = vertx;
    spool = spool == null ? Spool.open(dir.resolve("spool")) : spool;
    MailboxResolver resolver = new MailboxResolver(new Settings.Sender(Settings.SenderMode.ENVELOPE, null, Map.of(),
        null));
    runner = new QueueRunner(vertx, spool, transport, resolver, d, events, "relay.test", Clock.systemUTC(), policy,
        rateWindow, Duration.ofMillis(100));
    runner.start().await(10, java.util.concurrent.TimeUnit.SECONDS);
  }

  Envelope put(String sender, String... rcpts) throws Exception {
    if (spool == null) {
      spool = Spool.open(dir.resolve("spool"));
    }
    try (Incoming in = spool.begin()) {
      in.body().write(("From: " + sender + "\r\nMessage-ID: <" + in.id() + "@test>\r\nSubject: t\r\n\r\nbody\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      Envelope e = in.commit(sender, List.of(rcpts), "127.0.0.1", "dev");
      if (runner != null) {
        runner.submit(e);
      }
      return e;
    }
  }

  @Test
  void microsoftsBackOffHoldsThatMailboxWhileOthersFlow() throws Exception {
    AtomicInteger busy = new AtomicInteger(1);
    transport.script = s -> s.mailbox().equals("a@contoso.example") && busy.getAndDecrement() > 0
        ? Outcome.transientFailure("ErrorServerBusy", "busy", Duration.ofMillis(1500))
        : Outcome.success();
    start(delivery(8, 1, 1000, false));
    Envelope a1 = put("a@contoso.example", "x@example.com");
    await().until(() -> transport.count("a@contoso.example") == 1);
    long busyAt = transport.calls.get(0).at();
    Envelope a2 = put("a@contoso.example", "x@example.com");
    Envelope b1 = put("b@contoso.example", "x@example.com");

    await().atMost(Duration.ofSeconds(2)).until(() -> events.has("delivered " + b1.id()));
    assertThat(transport.count("a@contoso.example")).as("a2 waits: BackOffMilliseconds holds the mailbox").isEqualTo(1);
    await().atMost(Duration.ofSeconds(5)).until(() -> events.has("delivered " + a1.id())
        && events.has("delivered " + a2.id()));
    long nextA = transport.calls.stream().filter(c -> c.mailbox().equals("a@contoso.example")).skip(1)
        .mapToLong(Fake.Call::at).min().orElseThrow();
    assertThat(nextA - busyAt).as("the hint is a minimum").isGreaterThanOrEqualTo(1400);
    assertThat(spool.size()).isZero();
  }

  @Test
  void perMailboxConcurrencyAndRateLimitOneMailboxOnly() throws Exception {
    transport.latencyMs = 100;
    start(delivery(16, 2, 4, false), new RetryPolicy(Duration.ofMillis(300), Duration.ofSeconds(1),
        Duration.ofDays(5), () -> 0.5), Duration.ofSeconds(2));
    long t0 = System.currentTimeMillis();
    for (int i = 0; i < 6; i++) {
      put("slow@contoso.example", "x@example.com");
    }
    for (int i = 0; i < 6; i++) {
      put("other" + i + "@contoso.example", "x@example.com");
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> spool.size() == 0);
    assertThat(transport.maxInFlight.get("slow@contoso.example")).isLessThanOrEqualTo(2);
    List<Long> slow = transport.calls.stream().filter(c -> c.mailbox().equals("slow@contoso.example"))
        .map(Fake.Call::at).sorted().toList();
    assertThat(slow).hasSize(6);
    assertThat(slow.get(4) - slow.get(0)).as("rate 4 per window: the 5th waits for the window").isGreaterThanOrEqualTo(1900);
    long othersDone = transport.calls.stream().filter(c -> c.mailbox().startsWith("other")).mapToLong(Fake.Call::at)
        .max().orElseThrow();
    assertThat(othersDone - t0).as("the other mailboxes did not wait for it").isLessThan(1500);
  }

  @Test
  void permanentFailureMakesADeadLetterWithReasonAndANoticeFromThePostmaster() throws Exception {
    transport.script = s -> s.envelope().nullSender() ? Outcome.success()
        : Outcome.permanent("ErrorMessageSizeExceeded", "too big");
    start(delivery(4, 4, 1000, true));
    Envelope e = put("scanner@contoso.example", "alice@example.com");

    await().atMost(Duration.ofSeconds(5)).until(() -> events.has("dead " + e.id()));
    assertThat(spool.deadIds()).containsExactly(e.id());
    assertThat(spool.deadReason(e.id())).contains("ErrorMessageSizeExceeded").contains("too big");
    assertThat(spool.dead().get(0).attempts()).isEqualTo(1);

    await().atMost(Duration.ofSeconds(5)).until(() -> transport.calls.size() == 2 && spool.size() == 0);
    Fake.Call notice = transport.calls.get(1);
    assertThat(notice.mailbox()).as("sent as delivery.postmaster").isEqualTo("postmaster@contoso.example");
    String text = new String(notice.message(), StandardCharsets.US_ASCII);
    assertThat(text).contains("To: <scanner@contoso.example>").contains("multipart/report; report-type=delivery-status")
        .contains("Final-Recipient: rfc822; alice@example.com").contains("Status: 5.3.4")
        .contains("Message-ID: <" + e.id() + "@test>");
    assertThat(spool.deadIds()).as("no notice about the notice").containsExactly(e.id());
  }

  @Test
  void nullSenderNeverGetsANotice() throws Exception {
    transport.script = s -> Outcome.permanent("ErrorInvalidRecipients", "bad");
    start(new Settings.Delivery(4, 4, 1000, Duration.ofMillis(300), Duration.ofSeconds(1), Duration.ofDays(5), true,
        "postmaster@contoso.example"));
    Envelope e = put("", "x@example.com");
    await().atMost(Duration.ofSeconds(5)).until(() -> events.has("dead " + e.id()) || events.log.stream()
        .anyMatch(l -> l.startsWith("deferred " + e.id())));
    // the null sender has no mailbox without sender.default-mailbox: it waits (configuration "sender")
    assertThat(transport.calls).isEmpty();
    assertThat(events.has("alert sender")).isTrue();
  }

  @Test
  void giveUpAfterTheLifetime() throws Exception {
    transport.script = s -> Outcome.transientFailure("HTTP 503", "down", null);
    Settings.Delivery d = new Settings.Delivery(4, 4, 1000, Duration.ofMillis(200), Duration.ofMillis(300),
        Duration.ofSeconds(1), false, null);
    start(d);
    Envelope e = put("a@contoso.example", "x@example.com");
    await().atMost(Duration.ofSeconds(5)).until(() -> events.has("dead " + e.id()));
    assertThat(transport.calls.size()).as("retried until the lifetime was over").isBetween(2, 6);
    assertThat(spool.deadReason(e.id())).contains("gave up after").contains("HTTP 503");
  }

  @Test
  void configurationOfOneMailboxHoldsItAlertsAndClearsOnSuccess() throws Exception {
    AtomicInteger denied = new AtomicInteger(1);
    transport.script = s -> s.mailbox().equals("fax@contoso.example") && denied.getAndDecrement() > 0
        ? EwsOutcomes.fromResponseCode("ErrorNonExistentMailbox", "no mailbox", null)
        : Outcome.success();
    start(delivery(4, 4, 1000, false));
    Envelope f1 = put("fax@contoso.example", "x@example.com");
    await().until(() -> events.has("alert mailbox:fax@contoso.example"));
    Envelope f2 = put("fax@contoso.example", "x@example.com");
    Envelope other = put("scanner@contoso.example", "x@example.com");
    await().atMost(Duration.ofSeconds(2)).until(() -> events.has("delivered " + other.id()));
    assertThat(transport.count("fax@contoso.example")).as("its mail waits").isEqualTo(1);
    assertThat(spool.read(f1.id()).orElseThrow().lastError()).contains("ErrorNonExistentMailbox");
    await().atMost(Duration.ofSeconds(5)).until(() -> events.has("delivered " + f1.id())
        && events.has("delivered " + f2.id()));
    assertThat(events.has("cleared mailbox:fax@contoso.example")).isTrue();
  }

  @Test
  void tokenMisconfigurationHoldsTheWholeRelay() throws Exception {
    AtomicInteger bad = new AtomicInteger(1);
    transport.script = s -> bad.getAndDecrement() > 0
        ? new TokenException("AADSTS7000222: expired", "AADSTS7000222", "invalid_client", 401,
            Outcome.Kind.CONFIGURATION, "new secret", null).toOutcome()
        : Outcome.success();
    start(delivery(4, 4, 1000, false));
    put("a@contoso.example", "x@example.com");
    await().until(() -> events.has("alert token"));
    long alertAt = System.currentTimeMillis();
    put("b@contoso.example", "x@example.com");
    await().atMost(Duration.ofSeconds(5)).until(() -> spool.size() == 0);
    long bAt = transport.calls.stream().filter(c -> c.mailbox().startsWith("b")).findFirst().orElseThrow().at();
    assertThat(bAt - alertAt).as("held for max-backoff (1s, jitter +-20%)").isGreaterThanOrEqualTo(700);
    // cleared when the removal from the spool has completed, which may be just after the file is gone
    await().atMost(Duration.ofSeconds(5)).until(() -> events.has("cleared token"));
  }

  @Test
  void ambiguousOutcomeIsRetriedWithTheSameBytesAndReportedAsPossibleDuplicate() throws Exception {
    AtomicInteger timeouts = new AtomicInteger(1);
    transport.script = s -> timeouts.getAndDecrement() > 0
        ? Outcome.ambiguous("timeout", "no answer") : Outcome.success();
    start(delivery(4, 4, 1000, false));
    Envelope e = put("a@contoso.example", "x@example.com");
    await().atMost(Duration.ofSeconds(5)).until(() -> events.has("delivered " + e.id()));
    assertThat(events.has("duplicate " + e.id())).isTrue();
    assertThat(transport.calls).hasSize(2);
    assertThat(transport.calls.get(1).message()).as("same Message-ID, same bytes").isEqualTo(transport.calls.get(0)
        .message());
  }

  @Test
  void entryWhoseMessageVanishedIsQuarantinedAndTheRestFlows() throws Exception {
    Envelope broken = put("a@contoso.example", "x@example.com");
    Files.delete(spool.messageFile(broken.id()));
    Envelope good = put("b@contoso.example", "x@example.com");
    start(delivery(4, 4, 1000, false));
    await().atMost(Duration.ofSeconds(5)).until(() -> events.has("delivered " + good.id()));
    await().atMost(Duration.ofSeconds(5)).until(() -> Files.isDirectory(dir.resolve("spool/corrupt")
        .resolve(broken.id())));
    assertThat(transport.count("a@contoso.example")).isZero();

    // and while running: message.eml deleted under the runner after the entry was handed to it
    QueueRunner running = runner;
    runner = null; // put() must not submit this one
    Envelope vanishing = put("c@contoso.example", "x@example.com");
    runner = running;
    Files.delete(spool.messageFile(vanishing.id()));
    runner.submit(vanishing);
    Envelope later = put("d@contoso.example", "x@example.com");
    await().atMost(Duration.ofSeconds(5)).until(() -> events.has("delivered " + later.id()));
    await().atMost(Duration.ofSeconds(5)).until(() -> Files.isDirectory(dir.resolve("spool/corrupt")
        .resolve(vanishing.id())));
    assertThat(runner.pending().await(5, java.util.concurrent.TimeUnit.SECONDS)).as("nothing left to loop on")
        .isZero();
  }

  @Test
  void deleteRequestForAMessageInFlightRemovesItWhenTheAttemptFails() throws Exception {
    transport.latencyMs = 600;
    transport.script = s -> Outcome.transientFailure("HTTP 503", "down", null);
    start(delivery(4, 4, 1000, false));
    Envelope e = put("a@contoso.example", "x@example.com");
    await().until(() -> transport.calls.size() == 1);
    Path req = QueueControl.request(spool, QueueControl.Action.DELETE, e.id());
    await().atMost(Duration.ofSeconds(3)).until(() -> !Files.exists(req));
    await().atMost(Duration.ofSeconds(3)).until(() -> spool.size() == 0);
    assertThat(Files.exists(dir.resolve("spool/queue").resolve(e.id()))).isFalse();
    Thread.sleep(700); // nothing may retry it: no timer left behind (checked by absence, so a wait is needed)
    assertThat(transport.calls).hasSize(1);
    assertThat(spool.deadIds()).isEmpty();
  }

  @Test
  void retryRequestMakesAWaitingMessageDueNow() throws Exception {
    AtomicInteger fail = new AtomicInteger(1);
    transport.script = s -> fail.getAndDecrement() > 0
        ? Outcome.transientFailure("HTTP 503", "down", Duration.ofHours(1)) : Outcome.success();
    start(delivery(4, 4, 1000, false));
    Envelope e = put("a@contoso.example", "x@example.com");
    await().until(() -> events.has("deferred " + e.id() + " HTTP 503"));
    assertThat(spool.read(e.id()).orElseThrow().nextAttempt()).isAfter(Instant.now().plusSeconds(3000));
    QueueControl.request(spool, QueueControl.Action.RETRY, QueueControl.ALL);
    await().atMost(Duration.ofSeconds(3)).until(() -> events.has("delivered " + e.id()));
  }
}
