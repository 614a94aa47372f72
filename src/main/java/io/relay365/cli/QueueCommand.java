package io.relay365.cli;

import io.relay365.config.ConfigException;
import io.relay365.config.Settings;
import io.relay365.config.SettingsLoader;
import io.relay365.deliver.MailboxResolver;
import io.relay365.deliver.MessageHeaders;
import io.relay365.store.Envelope;
import io.relay365.store.QueueControl;
import io.relay365.store.Spool;
import io.relay365.store.SpoolLock;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.ParentCommand;

/**
 * {@code relay365 queue}: look at and act on the spool, also while the daemon runs.
 *
 * <p>How it coordinates with a running daemon (no entry is ever changed by two processes):
 * <ul>
 *   <li>list, show, dead only read. envelope.json is replaced atomically (rename), and entries move
 *       between directories by rename, so a reader sees a whole old or a whole new state, or the entry is
 *       gone (then it is skipped). A read-only view never cleans or quarantines anything.
 *   <li>retry and delete first try to take the spool's writer lock ({@link SpoolLock}). If they get it,
 *       no daemon runs and they change the spool directly, holding the lock meanwhile. If the daemon holds
 *       it, they leave a request in spool/control/ ({@link QueueControl}) and wait for the daemon to carry
 *       it out between its own steps; a message being delivered at that moment is deleted when the attempt
 *       ends (if Exchange did not take it already).
 * </ul>
 */
@Command(name = "queue", mixinStandardHelpOptions = true,
    description = "Show and manage the spooled mail (works while the relay runs).",
    subcommands = {QueueCommand.ListCmd.class, QueueCommand.ShowCmd.class, QueueCommand.RetryCmd.class,
        QueueCommand.DeleteCmd.class, QueueCommand.DeadCmd.class})
public final class QueueCommand implements Callable<Integer> {
  /** How long retry/delete wait for a running daemon to pick up their request (it polls every second). */
  static Duration requestWait = Duration.ofSeconds(15);

  @Option(names = {"-c", "--config"}, paramLabel = "FILE", scope = ScopeType.INHERIT,
      description = "YAML configuration, as for serve (gives the spool and shows each message's mailbox).")
  Path config;

  @Option(names = {"-s", "--spool"}, paramLabel = "DIR", scope = ScopeType.INHERIT,
      description = "Spool directory, instead of --config.")
  Path spool;

  PrintStream out = System.out;
  PrintStream err = System.err;

  @Override
  public Integer call() {
    return new ListCmd().run(this);
  }

  /** The spool directory, and the sender settings if a configuration was given (to show mailboxes). */
  private record Target(Path dir, Settings.Sender sender) {}

  /** Where serve's configuration lives when installed as README section 4 says. */
  static Path installedConfig = Path.of("/etc/relay365/relay365.yaml");

  private Target target() {
    if (spool != null) {
      return new Target(spool.toAbsolutePath().normalize(), null);
    }
    Path file = config;
    if (file == null && System.getenv("RELAY365_CONFIG") != null) {
      file = Path.of(System.getenv("RELAY365_CONFIG"));
    }
    if (file == null && Files.isRegularFile(installedConfig)) {
      file = installedConfig;
    }
    if (file == null && System.getenv("RELAY365_SPOOL_DIR") == null) {
      throw new ConfigException("--config", "is not given; say which spool to look at: --config FILE (the"
          + " configuration serve runs with, e.g. " + installedConfig + ") or --spool DIR (its spool.dir)");
    }
    Settings s = SettingsLoader.load(file, System.getenv());
    return new Target(s.spool().dir(), s.sender());
  }

  abstract static class Sub implements Callable<Integer> {
    @ParentCommand
    QueueCommand parent;

    @Override
    public Integer call() {
      return run(parent);
    }

    Integer run(QueueCommand q) {
      Target t;
      try {
        t = q.target();
      } catch (ConfigException e) {
        q.err.println("relay365: configuration error: " + e.getMessage());
        return Exits.CONFIG;
      }
      if (!Files.exists(t.dir())) {
        q.err.println("relay365: spool " + t.dir() + " does not exist; give the spool.dir that serve uses (--spool DIR,"
            + " or the same --config and RELAY365_SPOOL_DIR as serve)");
        return Exits.FAILED;
      }
      if (!Files.isDirectory(t.dir().resolve("queue"))) {
        q.err.println("relay365: " + t.dir() + " is not a relay365 spool (no queue/ inside)");
        return Exits.FAILED;
      }
      try {
        return exec(q, t);
      } catch (IllegalArgumentException e) {
        q.err.println("relay365: " + printable(e.getMessage()) + " (queue ids look like those of `relay365 queue list`)");
        return Exits.FAILED;
      } catch (IOException e) {
        q.err.println("relay365: " + e.getMessage());
        return Exits.FAILED;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return Exits.FAILED;
      }
    }

    abstract int exec(QueueCommand q, Target t) throws IOException, InterruptedException;
  }

  @Command(name = "list", description = "Messages waiting: id, age, sender, mailbox, recipients, attempts, next try,"
      + " last error.")
  static final class ListCmd extends Sub {
    @Override
    int exec(QueueCommand q, Target t) throws IOException {
      Spool spool = Spool.view(t.dir());
      List<Envelope> all = spool.queued();
      Instant now = Instant.now();
      List<String[]> rows = new ArrayList<>();
      rows.add(new String[] {"ID", "AGE", "SENDER", "MAILBOX", "RECIPIENTS", "ATT", "NEXT TRY", "LAST ERROR"});
      for (Envelope e : all) {
        rows.add(new String[] {e.id(), age(e.arrived(), now), cut(sender(e), 60), cut(mailbox(spool, t, e), 60),
            cut(String.join(",", e.recipients()), 40), Integer.toString(e.attempts()), next(e, now),
            cut(e.lastError() == null ? "-" : e.lastError(), 60)});
      }
      table(q.out, rows);
      q.out.println(all.size() + " message(s) queued; " + spool.deadIds().size() + " dead letter(s)"
          + (t.sender() == null ? "; mailbox shown with --config only" : ""));
      return Exits.OK;
    }
  }

  @Command(name = "show", description = "Everything about one message (queued or dead) and its headers.")
  static final class ShowCmd extends Sub {
    @Parameters(paramLabel = "ID")
    String id;

    @Override
    int exec(QueueCommand q, Target t) throws IOException {
      Spool spool = Spool.view(t.dir());
      Optional<Envelope> e = read(spool, id);
      Path message = spool.messageFile(id);
      String state = "queued";
      String reason = null;
      if (e.isEmpty()) {
        e = spool.dead().stream().filter(d -> d.id().equals(id)).findFirst();
        message = spool.deadMessageFile(id);
        state = "dead";
        reason = spool.deadReason(id);
      }
      if (e.isEmpty()) {
        q.err.println("relay365: no message " + id + " in the queue or the dead letters");
        return Exits.FAILED;
      }
      Envelope env = e.get();
      Instant now = Instant.now();
      q.out.println("id:          " + env.id() + " (" + state + ")");
      q.out.println("arrived:     " + env.arrived() + " (" + age(env.arrived(), now) + " ago)");
      q.out.println("sender:      " + printable(sender(env)));
      q.out.println("mailbox:     " + printable(mailbox(spool, t, env)));
      q.out.println("recipients:  " + printable(String.join(", ", env.recipients())));
      q.out.println("client:      " + printable(env.client() + (env.helo().isEmpty() ? "" : " (" + env.helo() + ")")));
      q.out.println("size:        " + env.size() + " bytes");
      q.out.println("attempts:    " + env.attempts());
      q.out.println("next try:    " + (state.equals("dead") ? "-" : next(env, now)));
      q.out.println("last error:  " + (env.lastError() == null ? "-" : printable(env.lastError())));
      if (reason != null) {
        q.out.println("dead reason: " + printable(reason));
      }
      q.out.println("file:        " + message);
      try {
        MessageHeaders h = MessageHeaders.read(message);
        q.out.println("headers:");
        for (MessageHeaders.Field f : h.fields()) {
          q.out.println("  " + printable(f.name()) + ": " + cut(f.value().replaceAll("\\s+", " "), 200));
        }
      } catch (IOException ex) {
        q.out.println("headers:     (unreadable: " + ex.getMessage() + ")");
      }
      return Exits.OK;
    }
  }

  @Command(name = "retry", description = "Try a message (or --all) again now; also releases holds after a fix. On a"
      + " dead letter: put it back in the queue, with a new lifetime.")
  static final class RetryCmd extends Sub {
    @Parameters(paramLabel = "ID", arity = "0..1")
    String id;

    @Option(names = "--all", description = "Every queued message.")
    boolean all;

    @Override
    int exec(QueueCommand q, Target t) throws IOException, InterruptedException {
      if (all == (id != null)) {
        q.err.println("relay365: give one ID or --all");
        return Exits.FAILED;
      }
      String what = all ? QueueControl.ALL : id;
      if (!all && read(Spool.view(t.dir()), id).isEmpty() && Spool.view(t.dir()).deadIds().contains(id)) {
        return requeue(q, t);
      }
      Optional<SpoolLock> lock = SpoolLock.tryAcquire(t.dir());
      if (lock.isEmpty()) {
        if (!all && read(Spool.view(t.dir()), id).isEmpty()) {
          q.err.println("relay365: no message " + id + " in the queue");
          return Exits.FAILED;
        }
        return viaDaemon(q, t, QueueControl.Action.RETRY, what);
      }
      try (SpoolLock held = lock.get()) {
        Spool spool = Spool.open(t.dir());
        List<Envelope> targets = all ? spool.queued() : read(spool, id).map(List::of).orElse(List.of());
        if (targets.isEmpty() && !all) {
          q.err.println("relay365: no message " + id + " in the queue");
          return Exits.FAILED;
        }
        for (Envelope e : targets) {
          spool.update(new Envelope(e.version(), e.id(), e.sender(), e.recipients(), e.client(), e.helo(),
              e.arrived(), e.size(), e.attempts(), null, e.lastError()));
        }
        q.out.println(targets.size() + " message(s) due now; relay365 is not running: they go out when it starts");
        return Exits.OK;
      }
    }

    /** A dead letter goes back into the queue, with a new lifetime; the queue's writer does the move. */
    private int requeue(QueueCommand q, Target t) throws IOException, InterruptedException {
      Optional<SpoolLock> lock = SpoolLock.tryAcquire(t.dir());
      if (lock.isEmpty()) {
        return viaDaemon(q, t, QueueControl.Action.REQUEUE, id);
      }
      try (SpoolLock held = lock.get()) {
        Spool.open(t.dir()).requeue(id);
        q.out.println("requeued dead letter " + id + "; relay365 is not running: it goes out when it starts");
        return Exits.OK;
      }
    }
  }

  @Command(name = "delete", description = "Remove a queued message or a dead letter for good (it is not delivered).")
  static final class DeleteCmd extends Sub {
    @Parameters(paramLabel = "ID")
    String id;

    @Override
    int exec(QueueCommand q, Target t) throws IOException, InterruptedException {
      if (read(Spool.view(t.dir()), id).isEmpty() && Spool.view(t.dir()).deadIds().contains(id)) {
        // the daemon never writes a dead letter again, so no coordination is needed
        Spool.view(t.dir()).removeDead(id);
        q.out.println("deleted dead letter " + id);
        return Exits.OK;
      }
      Optional<SpoolLock> lock = SpoolLock.tryAcquire(t.dir());
      if (lock.isEmpty()) {
        if (read(Spool.view(t.dir()), id).isEmpty()) {
          q.err.println("relay365: no message " + id + " in the queue");
          return Exits.FAILED;
        }
        return viaDaemon(q, t, QueueControl.Action.DELETE, id);
      }
      try (SpoolLock held = lock.get()) {
        Spool spool = Spool.open(t.dir());
        if (read(spool, id).isEmpty() && !Files.exists(spool.messageFile(id).getParent())) {
          q.err.println("relay365: no message " + id + " in the queue");
          return Exits.FAILED;
        }
        spool.remove(id);
        q.out.println("deleted " + id);
        return Exits.OK;
      }
    }
  }

  @Command(name = "dead", description = "Dead letters: messages given up, with the reason.")
  static final class DeadCmd extends Sub {
    @Override
    int exec(QueueCommand q, Target t) throws IOException {
      Spool spool = Spool.view(t.dir());
      List<Envelope> dead = spool.dead();
      Instant now = Instant.now();
      List<String[]> rows = new ArrayList<>();
      rows.add(new String[] {"ID", "AGE", "SENDER", "RECIPIENTS", "ATT", "REASON"});
      for (Envelope e : dead) {
        String reason = spool.deadReason(e.id());
        rows.add(new String[] {e.id(), age(e.arrived(), now), cut(sender(e), 60), cut(String.join(",", e.recipients()), 40),
            Integer.toString(e.attempts()), cut(reason == null ? "-" : reason.replaceFirst("^\\S+ ", ""), 90)});
      }
      table(q.out, rows);
      q.out.println(dead.size() + " dead letter(s) in " + t.dir().resolve("dead"));
      return Exits.OK;
    }
  }

  /** Leaves the request for the running daemon and waits until it was carried out. */
  private static int viaDaemon(QueueCommand q, Target t, QueueControl.Action action, String id)
      throws IOException, InterruptedException {
    Spool view = Spool.view(t.dir());
    Path request = QueueControl.request(view, action, id);
    long end = System.nanoTime() + requestWait.toNanos();
    while (Files.exists(request) && System.nanoTime() < end) {
      Thread.sleep(50);
    }
    String verb = action.name().toLowerCase(java.util.Locale.ROOT);
    if (Files.exists(request)) {
      q.out.println(verb + " " + id + " requested; the running relay365 has not picked it up yet ("
          + request + ")");
      return Exits.OK;
    }
    q.out.println(verb + " " + id + ": done by the running relay365"
        + (action == QueueControl.Action.DELETE ? " (a message in flight is removed when its attempt ends)" : ""));
    return Exits.OK;
  }

  private static Optional<Envelope> read(Spool spool, String id) {
    try {
      return spool.read(id);
    } catch (IOException | IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  private static String mailbox(Spool spool, Target t, Envelope e) {
    if (t.sender() == null) {
      return "-";
    }
    try {
      MailboxResolver.Resolution r = new MailboxResolver(t.sender()).resolve(e,
          MessageHeaders.read(spool.messageFile(e.id())));
      return r.resolved() ? r.mailbox() : "(none: " + r.failure().detail() + ")";
    } catch (IOException | RuntimeException ex) {
      return "?";
    }
  }

  static String age(Instant then, Instant now) {
    Duration d = Duration.between(then, now);
    if (d.isNegative()) {
      d = Duration.ZERO;
    }
    if (d.toDays() > 0) {
      return d.toDays() + "d" + d.toHoursPart() + "h";
    }
    if (d.toHours() > 0) {
      return d.toHours() + "h" + d.toMinutesPart() + "m";
    }
    if (d.toMinutes() > 0) {
      return d.toMinutes() + "m" + d.toSecondsPart() + "s";
    }
    return d.toSeconds() + "s";
  }

  private static String next(Envelope e, Instant now) {
    if (e.nextAttempt() == null || !e.nextAttempt().isAfter(now)) {
      return "now";
    }
    return "in " + age(now, e.nextAttempt());
  }

  private static String sender(Envelope e) {
    return e.nullSender() ? "<>" : e.sender();
  }

  private static String cut(String s, int max) {
    s = printable(s);
    return s.length() <= max ? s : s.substring(0, max - 1) + "…";
  }

  /**
   * What a client sent (HELO, addresses, headers) may hold terminal control sequences: ESC [2J would
   * clear the admin's screen, others can rewrite what the terminal shows. Every control character is
   * shown as '?' (C0, DEL and C1).
   */
  static String printable(String s) {
    if (s == null) {
      return null;
    }
    StringBuilder b = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      b.append(c < 0x20 || (c >= 0x7f && c < 0xa0) ? '?' : c);
    }
    return b.toString();
  }

  private static void table(PrintStream out, List<String[]> rows) {
    int[] w = new int[rows.get(0).length];
    for (String[] r : rows) {
      for (int i = 0; i < r.length; i++) {
        w[i] = Math.max(w[i], r[i].length());
      }
    }
    for (String[] r : rows) {
      StringBuilder b = new StringBuilder();
      for (int i = 0; i < r.length; i++) {
        b.append(i == r.length - 1 ? r[i] : String.format("%-" + w[i] + "s  ", r[i]));
      }
      out.println(b.toString().stripTrailing());
    }
  }
}
