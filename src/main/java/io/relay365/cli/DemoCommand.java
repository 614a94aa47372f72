package io.relay365.cli;

import io.relay365.Relay;
import io.relay365.config.Settings;
import io.relay365.config.SettingsLoader;
import io.relay365.sandbox.ReceivedMessage;
import io.relay365.sandbox.Sandbox;
import io.relay365.sandbox.SandboxOptions;
import io.vertx.core.Vertx;
import jakarta.activation.DataHandler;
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeBodyPart;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import jakarta.mail.util.ByteArrayDataSource;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code relay365 demo}: the whole path in one command, on loopback, with nothing to configure.
 * Starts the sandbox (fake Microsoft 365) and a relay pointed at it, sends a multipart message with
 * an attachment through SMTP, and prints what "Exchange" received.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Start the relay and the sandbox (fake Microsoft 365) on free loopback ports, send a message "
        + "with an attachment through SMTP and print what Exchange received.")
public final class DemoCommand implements Callable<Integer> {
  static final String SENDER = "scanner@contoso.example";
  static final String TO = "alice@contoso.example";
  static final String HIDDEN = "archive@contoso.example";

  @Option(names = "--transport", paramLabel = "ews|graph|smtp-oauth", defaultValue = "ews",
      description = "How the relay delivers (delivery.transport): ews (default), graph or smtp-oauth.")
  String transport;

  @Option(names = "--dir", paramLabel = "DIR",
      description = "Where the demo keeps its spool and the sandbox its mail (default: a new temporary directory).")
  Path dir;

  @Override
  public Integer call() throws Exception {
    PrintStream out = System.out;
    Settings.TransportKind kind = kind(transport);
    if (kind == null) {
      System.err.println("relay365 demo: --transport " + transport + " is not one of ews, graph, smtp-oauth");
      return Exits.USAGE;
    }
    Path base = dir != null ? Files.createDirectories(dir) : Files.createTempDirectory("relay365-demo-");
    Vertx vertx = Vertx.vertx();
    Sandbox sandbox = null;
    Relay relay = null;
    try {
      sandbox = Sandbox.start(vertx, new SandboxOptions().dataDir(base.resolve("sandbox")))
          .await(60, TimeUnit.SECONDS);
      out.println("sandbox  token endpoint " + sandbox.loginUrl() + ", EWS " + sandbox.ewsUrl() + ", Graph "
          + sandbox.graphUrl() + ", SMTP submission " + sandbox.smtpServer());
      Settings settings = SettingsLoader.load(sandbox.writeRelayConfig(), Map.of(
          "RELAY365_DELIVERY_TRANSPORT", kind.key(),
          "RELAY365_SMTP_LISTEN", "127.0.0.1:0",
          "RELAY365_ADMIN_LISTEN", "127.0.0.1:0",
          "RELAY365_SPOOL_DIR", base.resolve("spool").toString()));
      relay = Relay.start(vertx, settings).await(60, TimeUnit.SECONDS);
      out.println("relay    SMTP on 127.0.0.1:" + relay.smtpPort() + ", spool " + settings.spool().dir()
          + ", delivery.transport " + kind.key());

      byte[] pdf = fakePdf(180_000);
      MimeMessage msg = message(pdf);
      out.printf("sending  %s -> %s (To) + %s (envelope only), with a %d-byte PDF%n", SENDER, TO, HIDDEN, pdf.length);
      send(msg, relay.smtpPort());

      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while ((sandbox.received().isEmpty() || relay.spool().size() > 0) && System.nanoTime() < deadline) {
        Thread.sleep(50); // a console demo polling the fake; tests use Awaitility instead
      }
      if (sandbox.received().isEmpty()) {
        System.err.println("relay365 demo: nothing reached the sandbox within 30 s; see the log above");
        return Exits.FAILED;
      }
      ReceivedMessage r = sandbox.received().get(0);
      out.println();
      switch (kind) {
        case EWS -> {
          out.println("Exchange (sandbox) received one EWS CreateItem:");
          out.println("  mailbox      " + r.mailbox() + "  (impersonated; X-AnchorMailbox " + r.anchorMailbox() + ")");
          out.println("  disposition  " + r.disposition());
        }
        case GRAPH -> {
          out.println("Exchange (sandbox) received one message through Microsoft Graph:");
          out.println("  mailbox      " + r.mailbox() + "  (POST /v1.0/users/" + r.mailbox() + "/" + r.path() + ")");
          out.println("  sent items   a copy is saved (Graph MIME sends always save one)");
        }
        case SMTP_OAUTH -> {
          out.println("Exchange (sandbox) received one SMTP submission (STARTTLS, AUTH XOAUTH2):");
          out.println("  mailbox      " + r.mailbox() + "  (XOAUTH2 user; MAIL FROM:<" + r.envelopeSender() + ">)");
          out.println("  RCPT TO      " + String.join(", ", r.envelopeRecipients()));
        }
        default -> throw new IllegalStateException(kind.key());
      }
      out.println("  recipients   To: " + TO + "  Bcc (envelope only): " + String.join(", ", r.bccRecipients()));
      out.println("  subject      " + r.subject());
      out.println("  size         " + r.mime().length + " bytes of MIME");
      out.println("  stored as    " + r.emlFile());
      return Exits.OK;
    } finally {
      if (relay != null) {
        relay.stop().await(30, TimeUnit.SECONDS);
      }
      if (sandbox != null) {
        sandbox.close().await(10, TimeUnit.SECONDS);
      }
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  /** ews, graph or smtp-oauth (any case, '_' for '-'), as delivery.transport spells them; null if none. */
  static Settings.TransportKind kind(String name) {
    for (Settings.TransportKind k : Settings.TransportKind.values()) {
      if (k.key().equalsIgnoreCase(name.replace('_', '-'))) {
        return k;
      }
    }
    return null;
  }

  private static MimeMessage message(byte[] pdf) throws Exception {
    MimeMessage msg = new MimeMessage(Session.getInstance(new Properties()));
    msg.setFrom(new InternetAddress(SENDER, "Copier 3rd floor", "UTF-8"));
    msg.setRecipient(Message.RecipientType.TO, new InternetAddress(TO));
    msg.setSubject("Scan vom Kopierer – Grüße aus dem 3. Stock", "UTF-8");
    MimeBodyPart text = new MimeBodyPart();
    text.setText("Your scan is attached.\r\n", "UTF-8");
    MimeBodyPart attachment = new MimeBodyPart();
    attachment.setDataHandler(new DataHandler(new ByteArrayDataSource(pdf, "application/pdf")));
    attachment.setFileName("scan-0001.pdf");
    msg.setContent(new MimeMultipart(text, attachment));
    msg.saveChanges();
    return msg;
  }

  private static void send(MimeMessage msg, int port) throws Exception {
    Properties p = new Properties();
    p.put("mail.smtp.host", "127.0.0.1");
    p.put("mail.smtp.port", String.valueOf(port));
    p.put("mail.smtp.localhost", "demo.example");
    msg.setSender(null);
    try (Transport t = Session.getInstance(p).getTransport("smtp")) {
      t.connect();
      t.sendMessage(msg, new InternetAddress[] {new InternetAddress(TO), new InternetAddress(HIDDEN)});
    }
  }

  /** A syntactically plausible PDF of about {@code size} bytes; its content does not matter. */
  static byte[] fakePdf(int size) {
    StringBuilder sb = new StringBuilder("%PDF-1.4\n% relay365 demo attachment\n");
    int i = 0;
    while (sb.length() < size - 6) {
      sb.append("% line ").append(i++).append(" of filler so the attachment has some weight\n");
    }
    sb.append("%%EOF\n");
    return sb.toString().getBytes(StandardCharsets.US_ASCII);
  }
}
