package io.relay365.receive;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.subethamail.smtp.DropConnectionException;
import org.subethamail.smtp.RejectException;
import org.subethamail.smtp.internal.server.Command;
import org.subethamail.smtp.internal.server.CommandHandler;
import org.subethamail.smtp.internal.server.HelpMessage;
import org.subethamail.smtp.server.Session;

/**
 * The SMTP verbs as relay365 answers them, installed over subethasmtp's own in its CommandHandler
 * (the library's only per-command hook: addCommand replaces a verb). One small class per verb; the
 * rules every verb shares (early talkers, line length, smtp.tls.required) live in {@link Guarded}.
 * DATA (whose end-of-data rule is the library's: only CRLF.CRLF), RSET, NOOP, QUIT, HELP, VRFY and EXPN keep the library's implementation behind the guard.
 */
final class Verbs {
  private static final Logger log = LoggerFactory.getLogger(Verbs.class);

  private Verbs() {}

  static void install(CommandHandler handler, FrontDoor door) {
    Map<String, Command> library = new java.util.HashMap<>();
    for (String v : handler.getVerbs()) {
      library.put(v, handler.getCommand(v));
    }
    // RFC 3207 4: before TLS, a server that requires it refuses all but NOOP, EHLO, STARTTLS and QUIT.
    add(handler, door, new Ehlo(door), false);
    add(handler, door, new Helo(door), false);
    add(handler, door, new StartTls(door), false);
    add(handler, door, library.get("NOOP"), false);
    add(handler, door, library.get("QUIT"), false);
    add(handler, door, library.get("RSET"), false);
    add(handler, door, new Auth(door, library.get("AUTH")), true);
    add(handler, door, new Mail(door), true);
    add(handler, door, new Rcpt(door), true);
    add(handler, door, new Data(library.get("DATA")), true); // SpoolingHandler calls noteEarlyTalker
    for (String v : List.of("HELP", "VRFY", "EXPN")) {
      add(handler, door, library.get(v), true);
    }
    // CHUNKING is not offered: a BDAT's chunk would follow at once and be read as commands, so the
    // connection cannot be resynchronised; refuse and close (RFC 3030 is not implemented).
    handler.addCommand(new Closing("BDAT", 502, "5.5.1 BDAT is not supported (no CHUNKING); closing connection"));
    // Cross-protocol attacks (ALPACA, HTTP request smuggling into SMTP): an HTTP request line ends it.
    for (String v : List.of("GET", "POST", "CONNECT", "HEAD", "PUT", "DELETE", "OPTIONS")) {
      handler.addCommand(new Closing(v, 502, "5.5.1 This is an SMTP server, not HTTP; closing connection"));
    }
  }

  private static void add(CommandHandler handler, FrontDoor door, Command c, boolean needsTls) {
    handler.addCommand(new Guarded(c, door, needsTls));
  }

  static Connection connection(Session sess) {
    Socket s = sess.getSocket();
    if (s instanceof GuardedSocket g) {
      return g.connection();
    }
    throw new IllegalStateException("session socket is not guarded: " + s.getClass());
  }

  /** The rules shared by every verb, checked before it runs. */
  static final class Guarded implements Command {
    private final Command inner;
    private final FrontDoor door;
    private final boolean needsTls;

    Guarded(Command inner, FrontDoor door, boolean needsTls) {
      this.inner = inner;
      this.door = door;
      this.needsTls = needsTls;
    }

    @Override
    public void execute(String line, Session sess) throws IOException, DropConnectionException {
      Connection c = connection(sess);
      boolean quit = inner.getName().equals("QUIT");
      // RFC 2920 3.1 / RFC 5321 4.3.1: without PIPELINING the client waits for each reply. Commands
      // already waiting mean it did not (or that text meant as message content arrives as commands,
      // the smuggling pattern): close, as Postfix's smtpd_forbid_unauth_pipelining does. QUIT is harmless.
      if (!quit && (c.pipelinedAfterData || sess.getRawInput().available() > 0)) {
        log.info("Client {} sent commands before the reply (no PIPELINING); closing", Access.show(c.client));
        throw new DropConnectionException(554, "5.5.0 Error: SMTP protocol synchronization"
            + " (command sent before the previous reply; PIPELINING is not offered)");
      }
      if (line.getBytes(UTF_8).length + 2 > door.smtp().maxLineLength()) {
        sess.sendResponse("500 5.5.2 Line too long (at most " + door.smtp().maxLineLength() + " octets)");
        return;
      }
      if (needsTls && door.tlsRequired() && !sess.isTLSStarted()) {
        sess.sendResponse("530 5.7.0 Must issue a STARTTLS command first");
        return;
      }
      inner.execute(line, sess);
    }

    @Override
    public HelpMessage getHelp() throws org.subethamail.smtp.internal.server.CommandException {
      return inner.getHelp();
    }

    @Override
    public String getName() {
      return inner.getName();
    }
  }

  /**
   * DATA as the library's DataCommand (same replies, same order, same reset), reading the message with
   * {@link DataStream}: the same bytes, a block at a time instead of byte by byte.
   */
  static final class Data implements Command {
    private final Command library;

    Data(Command library) {
      this.library = library;
    }

    @Override
    public void execute(String line, Session sess) throws IOException, DropConnectionException {
      if (!(sess.getRawInput() instanceof java.io.BufferedInputStream raw)) {
        library.execute(line, sess); // not the library version this was written against: its own reader
        return;
      }
      if (!sess.isMailTransactionInProgress()) {
        sess.sendResponse("503 5.5.1 Error: need MAIL command");
        return;
      } else if (sess.getRecipientCount() == 0) {
        sess.sendResponse("503 Error: need RCPT command");
        return;
      }
      sess.sendResponse("354 End data with <CR><LF>.<CR><LF>");
      java.io.InputStream stream = new DataStream(raw);
      String dataMessage;
      try {
        dataMessage = sess.getMessageHandler().data(stream);
        // as the library: whatever the handler left is read to the end of data
        byte[] rest = new byte[8192];
        while (stream.read(rest, 0, rest.length) != -1) {
          // drained
        }
      } catch (RejectException ex) {
        sess.sendResponse(ex.getErrorResponse());
        return;
      }
      if (dataMessage != null) {
        sess.sendResponse(org.subethamail.smtp.internal.util.SMTPResponseHelper.buildResponse("250", dataMessage));
      } else {
        sess.sendResponse("250 Ok");
      }
      sess.resetMailTransaction();
    }

    @Override
    public HelpMessage getHelp() throws org.subethamail.smtp.internal.server.CommandException {
      return library.getHelp();
    }

    @Override
    public String getName() {
      return "DATA";
    }
  }

  /** A verb that is answered once and ends the connection. */
  static final class Closing implements Command {
    private final String name;
    private final int code;
    private final String text;

    Closing(String name, int code, String text) {
      this.name = name;
      this.code = code;
      this.text = text;
    }

    @Override
    public void execute(String line, Session sess) throws DropConnectionException {
      log.info("Client {} sent {}; closing", Access.show(connection(sess).client), name);
      throw new DropConnectionException(code, text);
    }

    @Override
    public HelpMessage getHelp() {
      return new HelpMessage(name, "not supported");
    }

    @Override
    public String getName() {
      return name;
    }
  }

  abstract static class Verb implements Command {
    private final String name;

    Verb(String name) {
      this.name = name;
    }

    @Override
    public HelpMessage getHelp() {
      return new HelpMessage(name, name);
    }

    @Override
    public String getName() {
      return name;
    }

    /** The text after the verb. */
    String argument(String line) {
      return line.length() > name.length() ? line.substring(name.length()).strip() : "";
    }
  }

  /** RFC 5321 4.1.1.1 and the extensions that are honoured, nothing more (see class comment of FrontDoor). */
  static final class Ehlo extends Verb {
    private final FrontDoor door;

    Ehlo(FrontDoor door) {
      super("EHLO");
      this.door = door;
    }

    @Override
    public void execute(String line, Session sess) throws IOException {
      String[] args = argument(line).split("\\s+");
      if (args[0].isEmpty()) {
        sess.sendResponse("501 5.5.4 Syntax: EHLO hostname");
        return;
      }
      sess.resetMailTransaction();
      sess.setHelo(args[0]);
      Connection c = connection(sess);
      List<String> lines = new ArrayList<>();
      lines.add(door.smtp().hostname());
      lines.add("8BITMIME");
      lines.add("SIZE " + door.smtp().maxMessageSize());
      lines.add("ENHANCEDSTATUSCODES");
      lines.add("SMTPUTF8");
      if (door.tls() != null && !sess.isTLSStarted()) {
        lines.add("STARTTLS");
      }
      if (!sess.isAuthenticated() && door.access().authOffered(c.client, sess.isTLSStarted())) {
        lines.add("AUTH PLAIN LOGIN");
      }
      StringBuilder reply = new StringBuilder();
      for (int i = 0; i < lines.size(); i++) {
        reply.append(i == 0 ? "" : "\r\n").append(i == lines.size() - 1 ? "250 " : "250-").append(lines.get(i));
      }
      c.plainReplyNext();
      sess.sendResponse(reply.toString());
    }
  }

  static final class Helo extends Verb {
    private final FrontDoor door;

    Helo(FrontDoor door) {
      super("HELO");
      this.door = door;
    }

    @Override
    public void execute(String line, Session sess) throws IOException {
      String[] args = argument(line).split("\\s+");
      if (args[0].isEmpty()) {
        sess.sendResponse("501 5.5.4 Syntax: HELO hostname");
        return;
      }
      sess.resetMailTransaction();
      sess.setHelo(args[0]);
      connection(sess).plainReplyNext();
      sess.sendResponse("250 " + door.smtp().hostname());
    }
  }

  /** RFC 3207; the SSLSocket is layered here so that both GuardedSocket rules keep seeing plaintext. */
  static final class StartTls extends Verb {
    private final FrontDoor door;

    StartTls(FrontDoor door) {
      super("STARTTLS");
      this.door = door;
    }

    @Override
    public void execute(String line, Session sess) throws IOException {
      if (door.tls() == null) {
        sess.sendResponse("502 5.5.1 STARTTLS is not offered");
        return;
      }
      if (!argument(line).isEmpty()) {
        sess.sendResponse("501 5.5.4 Syntax: STARTTLS (no parameters)");
        return;
      }
      if (sess.isTLSStarted()) {
        sess.sendResponse("503 5.5.1 TLS already active");
        return;
      }
      GuardedSocket plain = (GuardedSocket) sess.getSocket();
      sess.sendResponse("220 2.0.0 Ready to start TLS");
      SSLSocket tls;
      try {
        tls = door.tls().layer(plain.inner());
        tls.startHandshake();
      } catch (IOException e) {
        // nothing sensible can be said in clear after a failed handshake (RFC 3207 4.1): close
        log.info("TLS handshake with {} failed: {}", Access.show(plain.connection().client), e.toString());
        plain.connection().close();
        sess.quit();
        return;
      }
      sess.setSocket(new GuardedSocket(tls, plain.connection()));
      sess.resetSmtpProtocol(); // RFC 3207 4.2: forget everything learnt before TLS, the client says EHLO again
      sess.setTlsStarted(true);
    }
  }

  /** RFC 4954: offered only over TLS or to the legacy networks; failures are throttled per address. */
  static final class Auth implements Command {
    private final FrontDoor door;
    private final Command library;

    Auth(FrontDoor door, Command library) {
      this.door = door;
      this.library = library;
    }

    @Override
    public void execute(String line, Session sess) throws IOException, DropConnectionException {
      Connection c = connection(sess);
      if (door.smtp().auth() == null) {
        sess.sendResponse("502 5.5.1 AUTH is not offered");
      } else if (sess.isAuthenticated()) {
        sess.sendResponse("503 5.5.1 Already authenticated");
      } else if (sess.isMailTransactionInProgress()) {
        sess.sendResponse("503 5.5.1 AUTH is not allowed during a mail transaction"); // RFC 4954 4
      } else if (!door.access().authOffered(c.client, sess.isTLSStarted())) {
        sess.sendResponse("538 5.7.11 Encryption required for requested authentication mechanism");
      } else {
        library.execute(line, sess);
        if (sess.isAuthenticated()) {
          SpoolingHandler.MAIL_LOG.info("authenticated user={} client={}", Access.logSafe(door.user(sess)),
              Access.show(c.client));
        }
      }
    }

    @Override
    public HelpMessage getHelp() throws org.subethamail.smtp.internal.server.CommandException {
      return library.getHelp();
    }

    @Override
    public String getName() {
      return "AUTH";
    }
  }

  /** RFC 5321 4.1.1.2, with the relay and sender rules, and every parameter checked (RFC 5321 4.1.1.11). */
  static final class Mail extends Verb {
    /** Parameters of advertised extensions, plus DSN's (RFC 3461), which are tolerated though DSN is not offered. */
    private static final Set<String> KNOWN = Set.of("SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "AUTH");
    private final FrontDoor door;

    Mail(FrontDoor door) {
      super("MAIL");
      this.door = door;
    }

    @Override
    public void execute(String line, Session sess) throws IOException, DropConnectionException {
      Connection c = connection(sess);
      if (sess.isMailTransactionInProgress()) {
        sess.sendResponse("503 5.5.1 Sender already specified");
        return;
      }
      String user = door.user(sess);
      if (user == null && !door.access().mayRelay(c.client)) {
        SpoolingHandler.MAIL_LOG.info("refused client={} reason=not-in-allowed-networks-and-not-authenticated",
            Access.show(c.client));
        sess.sendResponse("554 5.7.1 Relay access denied: authenticate first");
        return;
      }
      SmtpArgs.Parsed p;
      long size = 0;
      try {
        p = SmtpArgs.mail(line);
        for (Map.Entry<String, String> e : p.params().entrySet()) {
          String v = e.getValue();
          switch (e.getKey()) {
            case "SIZE":
              if (v == null || !v.matches("\\d{1,18}")) {
                throw new SmtpReply(501, "5.5.4 Bad SIZE value");
              }
              size = Long.parseLong(v);
              break;
            case "BODY":
              if (v == null || !(v.equalsIgnoreCase("7BIT") || v.equalsIgnoreCase("8BITMIME"))) {
                throw new SmtpReply(501, "5.5.4 BODY must be 7BIT or 8BITMIME");
              }
              break;
            case "SMTPUTF8":
              if (v != null) {
                throw new SmtpReply(501, "5.5.4 SMTPUTF8 takes no value");
              }
              break;
            case "RET":
              if (v == null || !(v.equalsIgnoreCase("FULL") || v.equalsIgnoreCase("HDRS"))) {
                throw new SmtpReply(501, "5.5.4 RET must be FULL or HDRS");
              }
              break;
            case "ENVID":
            case "AUTH":
              if (v == null || (e.getKey().equals("AUTH") && door.smtp().auth() == null)) {
                throw new SmtpReply(e.getKey().equals("AUTH") ? 555 : 501, "5.5.4 Unsupported or bad parameter "
                    + e.getKey());
              }
              break;
            default:
              throw new SmtpReply(555, "5.5.4 Unsupported parameter " + e.getKey());
          }
        }
        c.smtputf8 = p.params().containsKey("SMTPUTF8");
        if (p.nonAscii() && !c.smtputf8) {
          throw new SmtpReply(553, "5.6.7 Non-ASCII address needs the SMTPUTF8 parameter"); // RFC 6531 3.5
        }
      } catch (SmtpReply r) {
        sess.sendResponse(r.line());
        return;
      }
      if (size > door.smtp().maxMessageSize()) {
        sess.sendResponse("552 5.3.4 Message size exceeds fixed limit");
        return;
      }
      String refusedBy = door.access().senderRefusedBy(p.address(), user, c.client);
      if (refusedBy != null) {
        SpoolingHandler.MAIL_LOG.info("refused client={} user={} from={} reason=\"{}\"", Access.show(c.client),
            user == null ? "-" : Access.logSafe(user), Access.logSafe(p.address()), refusedBy);
        sess.sendResponse("550 5.7.1 Sender not allowed for this client (" + refusedBy + ")");
        return;
      }
      sess.setDeclaredMessageSize((int) Math.min(size, Integer.MAX_VALUE));
      sess.startMailTransaction();
      try {
        sess.getMessageHandler().from(p.address());
      } catch (DropConnectionException ex) {
        sess.resetMailTransaction();
        throw ex;
      } catch (RejectException ex) {
        sess.resetMailTransaction();
        sess.sendResponse(ex.getErrorResponse());
        return;
      }
      sess.sendResponse("250 2.1.0 Ok");
    }
  }

  /** RFC 5321 4.1.1.3; the recipient limit gives 452 4.5.3 (RFC 5321 4.5.3.1.10: the client sends the rest later). */
  static final class Rcpt extends Verb {
    private final FrontDoor door;

    Rcpt(FrontDoor door) {
      super("RCPT");
      this.door = door;
    }

    @Override
    public void execute(String line, Session sess) throws IOException, DropConnectionException {
      Connection c = connection(sess);
      if (!sess.isMailTransactionInProgress()) {
        sess.sendResponse("503 5.5.1 Error: need MAIL command");
        return;
      }
      if (sess.getRecipientCount() >= door.smtp().maxRecipients()) {
        sess.sendResponse("452 4.5.3 Too many recipients");
        return;
      }
      SmtpArgs.Parsed p;
      try {
        p = SmtpArgs.rcpt(line);
        for (Map.Entry<String, String> e : p.params().entrySet()) {
          String v = e.getValue();
          switch (e.getKey()) {
            case "NOTIFY":
              if (v == null || !v.toUpperCase(Locale.ROOT).matches("NEVER|((SUCCESS|FAILURE|DELAY)(,(SUCCESS|FAILURE|DELAY))*)")) {
                throw new SmtpReply(501, "5.5.4 Bad NOTIFY value");
              }
              break;
            case "ORCPT":
              if (v == null || v.indexOf(';') <= 0) {
                throw new SmtpReply(501, "5.5.4 Bad ORCPT value");
              }
              break;
            default:
              throw new SmtpReply(555, "5.5.4 Unsupported parameter " + e.getKey());
          }
        }
        if (p.nonAscii() && !c.smtputf8) {
          throw new SmtpReply(553, "5.6.7 Non-ASCII address needs the SMTPUTF8 parameter on MAIL");
        }
      } catch (SmtpReply r) {
        sess.sendResponse(r.line());
        return;
      }
      try {
        sess.getMessageHandler().recipient(p.address());
        sess.addRecipient(p.address());
        sess.sendResponse("250 2.1.5 Ok");
      } catch (RejectException ex) {
        sess.sendResponse(ex.getErrorResponse());
      }
    }
  }

  /**
   * Called at the end of the data, before the DATA reply: bytes already waiting then were sent before
   * the reply, i.e. pipelined without PIPELINING; the next command (unless QUIT) ends the connection.
   * Checking after the reply instead would race with a client that answers it quickly.
   */
  static void noteEarlyTalker(Object ctx) throws IOException {
    if (ctx instanceof Session sess && sess.getSocket() instanceof GuardedSocket g
        && sess.getRawInput().available() > 0) {
      g.connection().pipelinedAfterData = true;
    }
  }
}
