package io.relay365.bench;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A Postfix instance of the benchmark's own, beside (never instead of) any system Postfix: its own
 * config_directory, queue_directory and data_directory under a work directory, smtpd on one loopback port,
 * relaying everything to {@code relayhost = [127.0.0.1]:<sink port>}. Durability is Postfix's default: the
 * cleanup daemon fsyncs the queue file before smtpd answers 250 (there is no setting to turn that off).
 * Everything else is Postfix's default as well (process limits, in_flow_delay, destination concurrency);
 * the only changes make it a loopback relay: no local delivery, no chroot (the private queue directory
 * holds no chroot files), and a log file instead of syslog.
 */
final class PrivatePostfix implements AutoCloseable {
  static final String SMTP_SOURCE = "/usr/sbin/smtp-source";
  static final String SMTP_SINK = "/usr/sbin/smtp-sink";
  static final String POSTFIX = "/usr/sbin/postfix";

  private final Path dir;
  private final int port;
  private long masterPid = -1;
  private Thread stopAtExit;

  private PrivatePostfix(Path dir, int port) {
    this.dir = dir;
    this.port = port;
  }

  /**
   * Installs Debian's postfix package (which brings smtp-source and smtp-sink) if a tool is missing,
   * with debconf told "No configuration", so that nothing is set up or started system-wide.
   */
  static void ensureInstalled() throws IOException, InterruptedException {
    if (Files.isExecutable(Path.of(SMTP_SOURCE)) && Files.isExecutable(Path.of(SMTP_SINK))
        && Files.isExecutable(Path.of(POSTFIX))) {
      return;
    }
    System.out.println("postfix, smtp-source or smtp-sink missing: installing Debian's postfix package");
    sh("echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections"
        + " && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null"
        + " || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null)");
    if (!Files.isExecutable(Path.of(SMTP_SOURCE))) {
      throw new IOException("could not install postfix (run as root, or: apt-get install postfix)");
    }
  }

  /** The installed package's version, e.g. "3.7.11-0+deb12u1". */
  static String version() {
    try {
      Process q = new ProcessBuilder("dpkg-query", "-W", "-f", "${Version}", "postfix").redirectErrorStream(true)
          .start();
      String v = new String(q.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      q.waitFor();
      return v.isEmpty() ? "?" : v;
    } catch (IOException | InterruptedException e) {
      return "?";
    }
  }

  /** Writes the configuration and starts the master; returns when smtpd accepts connections. */
  static PrivatePostfix start(Path dir, int port, int sinkPort) throws IOException, InterruptedException {
    PrivatePostfix p = new PrivatePostfix(dir, port);
    p.configure(sinkPort);
    try {
      sh(POSTFIX + " -c " + dir.resolve("etc") + " start");
    } catch (IOException e) {
      // postfix reports its reasons to syslog or a terminal only; here, to its log file
      Path log = dir.resolve("maillog");
      String tail = Files.exists(log) ? Files.readString(log).strip() : "(no log)";
      throw new IOException(e.getMessage() + "\n" + tail, e);
    }
    p.masterPid = Long.parseLong(Files.readString(dir.resolve("queue/pid/master.pid")).trim());
    // the master is a daemon, not our child: stop it even if the benchmark is interrupted
    p.stopAtExit = new Thread(() -> {
      try {
        sh(POSTFIX + " -c " + dir.resolve("etc") + " stop || true");
      } catch (IOException | InterruptedException ignored) {
        // exiting anyway
      }
    }, "postfix-stop");
    Runtime.getRuntime().addShutdownHook(p.stopAtExit);
    Bench.awaitPort(port, Duration.ofSeconds(30));
    return p;
  }

  private void configure(int sinkPort) throws IOException, InterruptedException {
    Path etc = dir.resolve("etc");
    Path queue = dir.resolve("queue");
    Path data = dir.resolve("data");
    Files.createDirectories(etc);
    Files.createDirectories(queue);
    Files.createDirectories(data);
    // Postfix refuses a data_directory its mail_owner cannot write (master.lock, caches)
    sh("chown postfix " + data + " && chmod 700 " + data);
    String main = String.join("\n",
        "# written by relay365's PostfixComparison: a private loopback relay to smtp-sink",
        "compatibility_level = 3.6",
        "queue_directory = " + queue,
        "data_directory = " + data,
        "mail_owner = postfix",
        "setgid_group = postdrop",
        "myhostname = postfix.bench.test",
        "mydestination =",
        "local_recipient_maps =",
        "alias_maps =",
        "alias_database =",
        "inet_interfaces = 127.0.0.1",
        "inet_protocols = ipv4",
        "mynetworks = 127.0.0.0/8",
        "smtpd_relay_restrictions = permit_mynetworks, reject",
        "relayhost = [127.0.0.1]:" + sinkPort,
        "maillog_file_prefixes = " + dir,
        "maillog_file = " + dir.resolve("maillog"),
        "biff = no",
        "");
    Files.writeString(etc.resolve("main.cf"), main);
    // Debian's master.cf without chroot (column 5), with smtpd on our port, without the pipe examples
    List<String> master = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of("/usr/share/postfix/master.cf.dist"))) {
      if (line.startsWith("maildrop")) {
        break;
      }
      if (line.matches("^smtp\\s+inet\\s.*")) {
        master.add("127.0.0.1:" + port + " inet n - n - - smtpd");
        continue;
      }
      master.add(line.replaceFirst("^(\\S+\\s+(?:unix|inet|unix-dgram|fifo|pass)\\s+\\S+\\s+\\S+\\s+)y(\\s)", "$1n$2"));
    }
    Files.write(etc.resolve("master.cf"), master);
  }

  /** The master process: Postfix's daemons are its children. */
  long masterPid() {
    return masterPid;
  }

  Path maillog() {
    return dir.resolve("maillog");
  }

  @Override
  public void close() throws IOException, InterruptedException {
    if (masterPid < 0) {
      return;
    }
    try {
      Runtime.getRuntime().removeShutdownHook(stopAtExit);
    } catch (IllegalStateException exiting) {
      // the hook runs anyway
    }
    sh(POSTFIX + " -c " + dir.resolve("etc") + " stop || true");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (Files.exists(Path.of("/proc", Long.toString(masterPid))) && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    masterPid = -1;
  }

  /** smtp-sink counting what it receives (smtp-sink -c prints "sess=.. quit=.. mesg=N" after each message). */
  static final class Sink implements AutoCloseable {
    private final Process process;
    private final AtomicLong messages = new AtomicLong();

    Sink(int port) throws IOException, InterruptedException {
      // -u: it refuses to run as root otherwise; 256: listen backlog
      List<String> cmd = new ArrayList<>(List.of(SMTP_SINK, "-c", "127.0.0.1:" + port, "256"));
      if ("root".equals(System.getProperty("user.name"))) {
        cmd.addAll(1, List.of("-u", "postfix"));
      }
      process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      Thread reader = new Thread(() -> read(process.getInputStream()), "smtp-sink-reader");
      reader.setDaemon(true);
      reader.start();
      Bench.awaitPort(port, Duration.ofSeconds(10));
    }

    private void read(InputStream in) {
      StringBuilder field = new StringBuilder();
      try {
        int c;
        while ((c = in.read()) != -1) {
          if (c == '\r' || c == '\n') {
            String s = field.toString();
            int i = s.indexOf("mesg=");
            if (i >= 0) {
              try {
                messages.set(Long.parseLong(s.substring(i + 5).trim()));
              } catch (NumberFormatException ignored) {
                // partial line
              }
            }
            field.setLength(0);
          } else {
            field.append((char) c);
          }
        }
      } catch (IOException ignored) {
        // sink stopped
      }
    }

    long messages() {
      return messages.get();
    }

    long pid() {
      return process.pid();
    }

    @Override
    public void close() {
      process.destroy();
    }
  }

  /**
   * Runs smtp-source: {@code sessions} parallel SMTP sessions sending {@code messages} messages of
   * {@code size} body bytes, one recipient each, a new connection per message (smtp-source's default, as
   * devices do). Returns the wall time until it exited, i.e. until the last 250 (and its QUIT).
   */
  static double smtpSource(int port, int sessions, int messages, int size, String from, String to)
      throws IOException, InterruptedException {
    List<String> cmd = List.of(SMTP_SOURCE, "-s", Integer.toString(sessions), "-m", Integer.toString(messages),
        "-l", Integer.toString(size), "-f", from, "-t", to, "127.0.0.1:" + port);
    long t0 = System.nanoTime();
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    int rc = p.waitFor();
    double seconds = (System.nanoTime() - t0) / 1e9;
    if (rc != 0) {
      throw new IOException("smtp-source exited with " + rc + ": " + out.strip());
    }
    if (!out.isBlank()) {
      System.out.println("  smtp-source: " + out.strip());
    }
    return seconds;
  }

  private static void sh(String script) throws IOException, InterruptedException {
    // postfix prints its errors only to a terminal or syslog; 2>&1 keeps what it prints to the pipe
    Process p = new ProcessBuilder("sh", "-c", script).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IOException("'" + script + "' failed: " + out.strip());
    }
  }
}
