package io.relay365.cli;

import io.relay365.config.ConfigException;
import io.relay365.config.Settings;
import io.relay365.config.SettingsLoader;
import io.vertx.core.json.JsonObject;
import jakarta.mail.Message;
import jakarta.mail.MessagingException;
import jakarta.mail.Session;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.angus.mail.smtp.SMTPTransport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code relay365 send-test}: sends one message through the running relay's SMTP port, as a device
 * would, and follows it: the queue id comes from the 250 reply ("Ok: queued as ID"), and the admin
 * listener's {@code /api/messages/ID} says when it is delivered, deferred or dead. So one command
 * proves the whole path: SMTP, spool, token, EWS and the sending mailbox's rights.
 */
@Command(name = "send-test", mixinStandardHelpOptions = true,
    description = "Send a test message through the running relay and wait until it is delivered (exit 0), "
        + "deferred (exit 75) or given up (exit 1).")
public final class SendTestCommand implements Callable<Integer> {
  static final int DEFERRED = 75; // EX_TEMPFAIL
  private static final Pattern QUEUED = Pattern.compile("queued as (\\S+)");

  @Option(names = "--to", required = true, paramLabel = "ADDR", description = "Recipient of the test message.")
  String to;

  @Option(names = "--from", paramLabel = "ADDR",
      description = "Envelope and From: address; it selects the sending mailbox as the relay's sender.mode does "
          + "(default: sender.fixed-mailbox or sender.default-mailbox).")
  String from;

  @Option(names = {"-c", "--config"}, paramLabel = "FILE",
      description = "The relay's YAML configuration: where its SMTP port and admin listener are.")
  Path config;

  @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "60",
      description = "How long to wait for the outcome (default: ${DEFAULT-VALUE}).")
  int timeoutSeconds;

  Map<String, String> environment = System.getenv();
  PrintStream out = System.out;

  @Override
  public Integer call() throws Exception {
    Settings settings;
    try {
      settings = SettingsLoader.load(config, environment);
    } catch (ConfigException e) {
      return Exits.config(e);
    }
    String sender = from != null ? from : settings.sender().fixedMailbox() != null ? settings.sender().fixedMailbox()
        : settings.sender().defaultMailbox();
    if (sender == null) {
      System.err.println("relay365 send-test: give --from ADDR, the address of a mailbox the relay may send as"
          + " (with sender.mode " + settings.sender().mode().name().toLowerCase(java.util.Locale.ROOT)
          + " it chooses the mailbox)");
      return Exits.USAGE;
    }
    if (!settings.admin().enabled()) {
      System.err.println("relay365 send-test: admin.listen is off; the outcome is read from the admin listener,"
          + " so enable it (default 127.0.0.1:8025)");
      return Exits.CONFIG;
    }
    String smtpHost = connectHost(settings.smtp().listenHost());
    int smtpPort = settings.smtp().listenPort();
    String id;
    try {
      id = send(smtpHost, smtpPort, sender);
    } catch (MessagingException e) {
      System.err.println("relay365 send-test: could not send through " + smtpHost + ":" + smtpPort + ": "
          + oneLine(e) + " (is `relay365 serve` running with this configuration?)");
      return Exits.UNAVAILABLE;
    }
    out.println("sent     " + sender + " -> " + to + " through " + smtpHost + ":" + smtpPort + ", queue id " + id);
    return follow(settings.admin(), id);
  }

  private String send(String host, int port, String sender) throws MessagingException {
    Properties p = new Properties();
    p.put("mail.smtp.host", host);
    p.put("mail.smtp.port", String.valueOf(port));
    p.put("mail.smtp.connectiontimeout", "10000");
    p.put("mail.smtp.timeout", "60000");
    Session session = Session.getInstance(p);
    MimeMessage m = new MimeMessage(session);
    m.setFrom(new InternetAddress(sender));
    m.setRecipient(Message.RecipientType.TO, new InternetAddress(to));
    m.setSubject("relay365 send-test " + Instant.now());
    m.setText("This is a test message sent by `relay365 send-test` to check that mail reaches Microsoft 365.\r\n"
        + "No action is needed.\r\n", "UTF-8");
    m.saveChanges();
    try (SMTPTransport t = (SMTPTransport) session.getTransport("smtp")) {
      t.connect();
      t.sendMessage(m, new InternetAddress[] {new InternetAddress(to)});
      String reply = t.getLastServerResponse();
      Matcher q = QUEUED.matcher(reply == null ? "" : reply);
      if (!q.find()) {
        throw new MessagingException("the relay accepted the message but its reply names no queue id: " + reply);
      }
      return q.group(1);
    }
  }

  /** Polls the admin listener until the message's outcome is known or the timeout passes. */
  private int follow(Settings.Admin admin, String id) throws InterruptedException {
    String host = connectHost(admin.listenHost());
    URI uri = URI.create("http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + admin.listenPort()
        + "/api/messages/" + id);
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    long deadline = System.nanoTime() + Duration.ofSeconds(timeoutSeconds).toNanos();
    String last = null;
    while (System.nanoTime() < deadline) {
      JsonObject state;
      try {
        HttpRequest.Builder rq = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5)).GET();
        if (admin.token() != null) {
          rq.header("Authorization", "Bearer " + admin.token().reveal());
        }
        HttpResponse<String> r = http.send(rq.build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 401) {
          System.err.println("relay365 send-test: the admin listener refused the token; check admin.token-file");
          return Exits.CONFIG;
        }
        state = new JsonObject(r.body());
      } catch (java.io.IOException | RuntimeException e) {
        System.err.println("relay365 send-test: cannot ask the admin listener at " + uri + ": " + oneLine(e));
        return Exits.UNAVAILABLE;
      }
      String status = state.getString("status", "unknown");
      if (!status.equals(last)) {
        last = status;
      }
      switch (status) {
        case "delivered":
          out.println("delivered as " + state.getString("mailbox", "?") + " (attempt " + state.getInteger("attempts", 1)
              + ")");
          return Exits.OK;
        case "dead":
          out.println("dead     the relay gave up: " + state.getString("detail", ""));
          return Exits.FAILED;
        case "deferred":
          out.println("deferred " + state.getString("code", "") + " " + state.getString("detail", "")
              + "\n         the message stays queued and is retried; run `relay365 doctor` to find the cause");
          return DEFERRED;
        default:
          Thread.sleep(200); // polling a remote process: there is no condition to wait on
      }
    }
    out.println("timeout  no outcome within " + timeoutSeconds + " s (last state: " + last + "); the message stays"
        + " queued; see /status on the admin listener");
    return Exits.FAILED;
  }

  /** A wildcard listen address is reached on loopback. */
  static String connectHost(String listenHost) {
    if (listenHost.equals("0.0.0.0")) {
      return "127.0.0.1";
    }
    if (listenHost.equals("::") || listenHost.equals("0:0:0:0:0:0:0:0")) {
      return "::1";
    }
    return listenHost;
  }

  private static String oneLine(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String m = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    return m.replaceAll("\\s+", " ").strip();
  }
}
