package io.relay365.sandbox;

import io.relay365.sandbox.SmtpFaults.Stage;
import jakarta.mail.internet.AddressException;
import jakarta.mail.internet.InternetAddress;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import javax.net.ssl.SSLSocket;

/**
 * One client connection to the sandbox's submission endpoint, strict where Exchange Online's client
 * submission is (microsoft-wire.md §4, §5):
 * <ul>
 *   <li>before STARTTLS, EHLO offers no AUTH, and AUTH/MAIL/RCPT/DATA get
 *       {@code 530 5.7.0 Must issue a STARTTLS command first} (GUESS: exact text);
 *   <li>after TLS (1.2+), the client must say EHLO again (RFC 3207 §4.2), which then offers
 *       {@code AUTH LOGIN XOAUTH2} and no STARTTLS;
 *   <li>AUTH XOAUTH2: the bearer token must carry the sandbox's signature, aud = Exchange Online, this tenant,
 *       a valid lifetime and the role SMTP.SendAsApp, and the user= mailbox must be allowed (Faults.denyMailbox,
 *       unknownMailbox): else {@code 535 5.7.3 Authentication unsuccessful [host]}; SMTP AUTH disabled for the
 *       tenant or mailbox gives 5.7.139; AUTH LOGIN (basic authentication) always fails with 5.7.139;
 *   <li>MAIL before AUTH: {@code 530 5.7.57 …}; SIZE= and the data over Faults.maxMessageSize: 552 5.3.4;
 *   <li>after the data: a MAIL FROM or From: address other than the authenticated mailbox (without a SendAs
 *       grant) gets {@code 554 5.2.252 SendAsDenied} (GUESS: EXO answers it after DATA); more than 30 accepted
 *       messages a minute per mailbox gets the submission quota rejection (a 5xx that only means "later");
 *       more than a few submissions of one mailbox at once get {@code 432 4.3.2 … sender thread limit exceeded}.
 * </ul>
 * PIPELINING works because replies are written in command order; commands buffered before STARTTLS are
 * discarded with the plain-text stream (the STARTTLS injection defence of RFC 3207 §6).
 */
final class SmtpSession {
  private static final String HOST = SmtpEndpoint.HOST_NAME;
  /** Exchange Online: at most 500 recipients per message (§5). */
  static final int MAX_RECIPIENTS = 500;
  private static final String EXCHANGE_ROLE = "SMTP.SendAsApp";

  private final SmtpEndpoint endpoint;
  private final Sandbox sandbox;
  private final SmtpFaults faults;
  private Socket socket;
  private SmtpWire wire;
  private OutputStream out;
  private boolean tls;
  private boolean helo;
  private String user;          // the authenticated mailbox
  private String tokenId;
  private String mailFrom;      // null = no transaction
  private final List<String> rcpts = new ArrayList<>();

  SmtpSession(SmtpEndpoint endpoint, Socket socket) {
    this.endpoint = endpoint;
    this.sandbox = endpoint.sandbox();
    this.faults = sandbox.faults().smtp();
    this.socket = socket;
  }

  void run() {
    try {
      socket.setSoTimeout(600_000);
      wire = new SmtpWire(socket.getInputStream());
      out = socket.getOutputStream();
      String injected = faults.takeReply(Stage.CONNECT);
      if (injected != null) {
        if (!injected.equals(SmtpFaults.DROP)) {
          reply(injected);
        }
        return;
      }
      reply("220 " + HOST + " Microsoft ESMTP MAIL Service ready at "
          + DateTimeFormatter.RFC_1123_DATE_TIME.format(Instant.now().atOffset(ZoneOffset.UTC)));
      String line;
      while ((line = wire.readLine()) != null) {
        if (!command(line)) {
          return;
        }
      }
    } catch (IOException e) {
      // the client went away, or the TLS handshake failed: nothing to answer
    } finally {
      endTransaction();
    }
  }

  /** Handles one command line; false when the connection must close. */
  private boolean command(String line) throws IOException {
    int sp = line.indexOf(' ');
    String verb = (sp < 0 ? line : line.substring(0, sp)).toUpperCase(Locale.ROOT);
    String arg = sp < 0 ? "" : line.substring(sp + 1).trim();
    switch (verb) {
      case "EHLO":
      case "HELO":
        return hello(verb, arg);
      case "STARTTLS":
        return startTls();
      case "AUTH":
        return auth(arg);
      case "MAIL":
        return mail(arg);
      case "RCPT":
        return rcpt(arg);
      case "DATA":
        return data();
      case "RSET":
        endTransaction();
        reply("250 2.0.0 Resetting");
        return true;
      case "NOOP":
        reply("250 2.0.0 OK");
        return true;
      case "QUIT":
        reply("221 2.0.0 Service closing transmission channel");
        return false;
      case "VRFY":
        reply("252 2.1.5 Cannot VRFY user, but will take message for this user");
        return true;
      default:
        reply("500 5.3.3 Unrecognized command");
        return true;
    }
  }

  private boolean hello(String verb, String arg) throws IOException {
    if (injected(Stage.EHLO)) {
      return !closing;
    }
    if (arg.isEmpty()) {
      reply("501 5.5.4 Invalid domain name");
      return true;
    }
    endTransaction();
    helo = true;
    String greeting = HOST + " Hello [" + socket.getInetAddress().getHostAddress() + "]";
    if (verb.equals("HELO")) {
      reply("250 " + greeting);
      return true;
    }
    // Exchange also offers CHUNKING and BINARYMIME; the sandbox does not implement BDAT, so it does not offer them.
    List<String> ext = new ArrayList<>(List.of(greeting, "SIZE " + sandbox.faults().maxMessageSize(), "PIPELINING",
        "DSN", "ENHANCEDSTATUSCODES"));
    if (tls) {
      ext.add("AUTH LOGIN XOAUTH2");
    } else {
      ext.add(faults.isStartTlsStripped() ? "XXXXXXXA" : "STARTTLS");
    }
    ext.addAll(List.of("8BITMIME", "SMTPUTF8"));
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < ext.size(); i++) {
      sb.append("250").append(i == ext.size() - 1 ? ' ' : '-').append(ext.get(i)).append("\r\n");
    }
    write(sb.toString());
    return true;
  }

  private boolean startTls() throws IOException {
    if (injected(Stage.STARTTLS)) {
      return !closing;
    }
    if (tls) {
      reply("503 5.5.1 TLS already active");
      return true;
    }
    if (faults.isStartTlsStripped()) {
      reply("500 5.3.3 Unrecognized command");
      return true;
    }
    if (!helo) {
      reply("503 5.5.2 Send hello first");
      return true;
    }
    reply("220 2.0.0 SMTP server ready");
    SSLSocket s = (SSLSocket) endpoint.tls().getSocketFactory().createSocket(socket,
        socket.getInetAddress().getHostAddress(), socket.getPort(), true);
    s.setUseClientMode(false);
    List<String> supported = Arrays.asList(s.getSupportedProtocols());
    s.setEnabledProtocols(List.of("TLSv1.3", "TLSv1.2").stream().filter(supported::contains).toArray(String[]::new));
    s.startHandshake();
    socket = s;
    // RFC 3207 4.2 and 6: forget everything, including any command already buffered in clear text.
    wire = new SmtpWire(s.getInputStream());
    out = s.getOutputStream();
    tls = true;
    helo = false;
    endTransaction();
    return true;
  }

  // ---- AUTH ------------------------------------------------------------------------------------

  private boolean auth(String arg) throws IOException {
    if (!tls) {
      reply("530 5.7.0 Must issue a STARTTLS command first"); // GUESS: exact text
      return true;
    }
    if (!helo) {
      reply("503 5.5.2 Send hello first");
      return true;
    }
    if (user != null) {
      reply("503 5.5.2 Already authenticated");
      return true;
    }
    if (mailFrom != null) {
      reply("503 5.5.2 AUTH not allowed during a mail transaction");
      return true;
    }
    String[] parts = arg.split(" ", 2);
    String mech = parts[0].toUpperCase(Locale.ROOT);
    String initial = parts.length > 1 ? parts[1].trim() : null;
    if (mech.equals("LOGIN")) {
      // Basic authentication: Exchange Online asks for both, then refuses (basic auth is off, MC786329).
      if (initial == null) {
        reply("334 VXNlcm5hbWU6");
        if (wire.readLine() == null) {
          return false;
        }
      }
      reply("334 UGFzc3dvcmQ6");
      if (wire.readLine() == null) {
        return false;
      }
      reply("535 5.7.139 Authentication unsuccessful, basic authentication is disabled. [" + HOST + "]"); // GUESS
      return true;
    }
    if (!mech.equals("XOAUTH2")) {
      reply("504 5.7.4 Unrecognized authentication type [" + HOST + "]");
      return true;
    }
    if (initial == null) {
      reply("334 ");
      initial = wire.readLine();
      if (initial == null) {
        return false;
      }
      if (initial.equals("*")) {
        reply("501 5.0.0 Authentication cancelled");
        return true;
      }
    }
    if (injected(Stage.AUTH)) {
      return !closing;
    }
    String failure = xoauth2(initial.trim());
    if (failure != null) {
      reply(failure);
      return true;
    }
    reply("235 2.7.0 Authentication successful");
    return true;
  }

  /** Checks an XOAUTH2 initial response; null when it authenticates (user and tokenId set), else the reply. */
  private String xoauth2(String b64) {
    String unsuccessful = "535 5.7.3 Authentication unsuccessful [" + HOST + "]";
    String decoded;
    try {
      decoded = new String(Base64.getDecoder().decode(b64), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      return "501 5.5.2 Cannot Decode response";
    }
    // "user=" mailbox ^A "auth=Bearer " token ^A ^A (§4)
    if (!decoded.endsWith("\u0001\u0001")) {
      return unsuccessful;
    }
    String mailbox = null;
    String bearer = null;
    for (String kv : decoded.substring(0, decoded.length() - 2).split("\u0001")) {
      if (kv.startsWith("user=")) {
        mailbox = kv.substring(5);
      } else if (kv.startsWith("auth=Bearer ")) {
        bearer = kv.substring(12);
      }
    }
    if (mailbox == null || bearer == null || mailbox.indexOf('@') <= 0) {
      return unsuccessful;
    }
    String jti = validToken(bearer);
    if (jti == null) {
      return unsuccessful;
    }
    if (faults.isAuthDisabled()) {
      return "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit"
          + " https://aka.ms/smtp_auth_disabled for more information. [" + HOST + "]";
    }
    if (faults.isAuthDisabledFor(mailbox)) {
      return "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit"
          + " https://aka.ms/smtp_auth_disabled for more information. [" + HOST + "]";
    }
    // No FullAccess for the app's service principal, or no such mailbox: Exchange says no more than this.
    if (sandbox.faults().isDenied(mailbox) || sandbox.faults().isUnknown(mailbox)) {
      return unsuccessful;
    }
    user = mailbox;
    tokenId = jti;
    return null;
  }

  /** The token's jti if it is one of ours, for Exchange Online, this tenant, valid now and with SMTP.SendAsApp. */
  private String validToken(String compact) {
    Jwt jwt;
    try {
      jwt = Jwt.parse(compact.trim());
    } catch (Jwt.MalformedJwtException e) {
      return null;
    }
    if (!jwt.verifiesWith(sandbox.pki().tokenKeys.getPublic())) {
      return null;
    }
    String aud = jwt.string("aud");
    if (aud == null || !(aud.equalsIgnoreCase(TokenEndpoint.OUTLOOK) || aud.equalsIgnoreCase(sandbox.ewsOrigin()))) {
      return null; // e.g. a Graph token
    }
    if (!sandbox.tenantId().equalsIgnoreCase(jwt.string("tid"))
        || !("https://sts.windows.net/" + sandbox.tenantId() + "/").equalsIgnoreCase(jwt.string("iss"))) {
      return null;
    }
    Long exp = jwt.numericDate("exp");
    Long nbf = jwt.numericDate("nbf");
    long now = Instant.now().getEpochSecond();
    if (exp == null || now >= exp || (nbf != null && now < nbf)) {
      return null;
    }
    Object roles = jwt.claims().getValue("roles");
    List<?> list = roles instanceof io.vertx.core.json.JsonArray a ? a.getList() : List.of();
    if (!list.contains(EXCHANGE_ROLE)) {
      return null; // SMTP.SendAsApp not granted or not consented
    }
    String jti = jwt.string("jti");
    return jti == null ? "" : jti;
  }

  // ---- the transaction -------------------------------------------------------------------------

  private boolean mail(String arg) throws IOException {
    if (!tls) {
      reply("530 5.7.0 Must issue a STARTTLS command first"); // GUESS: exact text
      return true;
    }
    if (!helo) {
      reply("503 5.5.2 Send hello first");
      return true;
    }
    if (user == null) {
      // GUESS (exact text): the widely reported Exchange Online reply for an unauthenticated submission
      reply("530 5.7.57 Client not authenticated to send mail. [" + HOST + "]");
      return true;
    }
    if (mailFrom != null) {
      reply("503 5.5.2 Sender already specified");
      return true;
    }
    if (injected(Stage.MAIL)) {
      return !closing;
    }
    String[] p = path(arg, "FROM:");
    if (p == null) {
      reply("501 5.5.4 Invalid arguments");
      return true;
    }
    for (String param : p[1].isBlank() ? new String[0] : p[1].trim().split("\\s+")) {
      String name = param.split("=", 2)[0].toUpperCase(Locale.ROOT);
      String value = param.contains("=") ? param.substring(param.indexOf('=') + 1) : "";
      switch (name) {
        case "SIZE":
          long size;
          try {
            size = Long.parseLong(value);
          } catch (NumberFormatException e) {
            reply("501 5.5.4 Invalid SIZE parameter");
            return true;
          }
          if (size > sandbox.faults().maxMessageSize()) {
            reply("552 5.3.4 Message size exceeds fixed maximum message size");
            return true;
          }
          break;
        case "BODY", "SMTPUTF8", "RET", "ENVID", "AUTH":
          break;
        default:
          reply("555 5.5.4 Unsupported option: " + name);
          return true;
      }
    }
    mailFrom = p[0];
    rcpts.clear();
    reply("250 2.1.0 Sender OK");
    return true;
  }

  /**
   * RCPT and DATA need TLS, an authenticated user and a MAIL FROM, checked in that order (as for MAIL):
   * replies with the first that is missing and returns true, else false.
   */
  private boolean refusedOutsideTransaction() throws IOException {
    if (!tls) {
      reply("530 5.7.0 Must issue a STARTTLS command first"); // GUESS: exact text
      return true;
    }
    if (user == null) {
      reply("530 5.7.57 Client not authenticated to send mail. [" + HOST + "]");
      return true;
    }
    if (mailFrom == null) {
      reply("503 5.5.2 Need mail command");
      return true;
    }
    return false;
  }

  private boolean rcpt(String arg) throws IOException {
    if (refusedOutsideTransaction()) {
      return true;
    }
    if (injected(Stage.RCPT)) {
      return !closing;
    }
    String[] p = path(arg, "TO:");
    if (p == null || p[0].isEmpty()) {
      reply("501 5.5.4 Invalid arguments");
      return true;
    }
    if (rcpts.size() >= MAX_RECIPIENTS) {
      reply("452 4.5.3 Too many recipients");
      return true;
    }
    rcpts.add(p[0]);
    reply("250 2.1.5 Recipient OK");
    return true;
  }

  private boolean data() throws IOException {
    if (refusedOutsideTransaction()) {
      return true;
    }
    if (rcpts.isEmpty()) {
      reply("503 5.5.2 Need rcpt command");
      return true;
    }
    if (injected(Stage.DATA)) {
      return !closing;
    }
    String mailbox = user;
    int inProgress = endpoint.enter(mailbox);
    try {
      reply("354 Start mail input; end with <CRLF>.<CRLF>");
      long max = sandbox.faults().maxMessageSize();
      ByteArrayOutputStream body = new ByteArrayOutputStream(64 * 1024);
      boolean tooBig = !wire.readData(body, max);
      String answer = afterData(body, tooBig, inProgress);
      if (answer == null) {
        return false; // dropped
      }
      reply(answer);
      endTransaction();
      return !answer.startsWith("421");
    } finally {
      endpoint.leave(mailbox);
    }
  }

  /** The reply to the end of the message (null = drop the connection); stores the message if accepted. */
  private String afterData(ByteArrayOutputStream body, boolean tooBig, int inProgress) throws IOException {
    sleep(faults.latency().toMillis());
    if (tooBig) {
      return "552 5.3.4 Message size exceeds fixed maximum message size";
    }
    String injected = faults.takeReply(Stage.DOT);
    if (injected != null) {
      return injected.equals(SmtpFaults.DROP) ? null : injected;
    }
    if (inProgress > faults.maxConcurrent()) {
      return "432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded [Hostname=" + HOST + "]"; // GUESS
    }
    byte[] mime = body.toByteArray();
    Set<String> senders = new LinkedHashSet<>();
    senders.add(mailFrom);
    senders.addAll(addresses(rawHeader(mime, "From")));
    for (String s : senders) {
      if (!faults.maySendAs(user, s)) {
        // GUESS (when and exact text): Exchange answers SendAs problems once the message is submitted.
        return "554 5.2.252 SendAsDenied; " + user + " not allowed to send as " + s + ";"
            + " STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process"
            + " message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message."
            + " [EndDiagnosticData] [Hostname=" + HOST + "]";
      }
    }
    if (!endpoint.admit(user, faults.rate(), faults.rateWindow().toMillis())) {
      // GUESS (exact text): §4/§5 say only "rejected, not queued".
      return "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message"
          + " due to a permanent exception with message [BeginDiagnosticData]Cannot submit message."
          + " [EndDiagnosticData] [Hostname=" + HOST + "]";
    }
    List<String> hidden = hidden(mime, rcpts);
    sandbox.mailStore().storeSmtp(user, mailFrom, List.copyOf(rcpts), hidden, tokenId, mime);
    endpoint.messages.incrementAndGet();
    String id = rawHeader(mime, "Message-ID");
    return "250 2.0.0 OK " + (id == null ? "" : id.trim() + " ") + "[Hostname=" + HOST + "]";
  }

  private void endTransaction() {
    mailFrom = null;
    rcpts.clear();
  }

  // ---- helpers ---------------------------------------------------------------------------------

  private boolean closing;

  /** Answers an injected reply for {@code stage}, if one is set; a 421 or a drop then closes. */
  private boolean injected(Stage stage) throws IOException {
    String r = faults.takeReply(stage);
    if (r == null) {
      return false;
    }
    if (r.equals(SmtpFaults.DROP)) {
      closing = true;
      return true;
    }
    reply(r);
    closing = r.startsWith("421");
    return true;
  }

  /** "&lt;addr&gt; params" after "FROM:"/"TO:" → {addr, params}, or null if malformed. */
  private static String[] path(String arg, String keyword) {
    if (!arg.regionMatches(true, 0, keyword, 0, keyword.length())) {
      return null;
    }
    String rest = arg.substring(keyword.length()).trim();
    if (!rest.startsWith("<")) {
      return null;
    }
    int close = rest.indexOf('>');
    if (close < 0) {
      return null;
    }
    return new String[] {rest.substring(1, close).trim(), rest.substring(close + 1)};
  }

  /** The first header field called {@code name}, unfolded, not decoded; null if absent. */
  static String rawHeader(byte[] mime, String name) {
    String text = new String(mime, 0, Math.min(mime.length, 1024 * 1024), StandardCharsets.ISO_8859_1);
    int end = text.indexOf("\r\n\r\n");
    String head = end < 0 ? text : text.substring(0, end);
    for (String line : head.replaceAll("\r\n(?=[ \t])", "").split("\r\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase(name)) {
        return new String(line.substring(colon + 1).getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
      }
    }
    return null;
  }

  private static List<String> addresses(String headerValue) {
    List<String> out = new ArrayList<>();
    if (headerValue == null) {
      return out;
    }
    try {
      for (InternetAddress a : InternetAddress.parseHeader(headerValue, false)) {
        if (a.getAddress() != null && !a.getAddress().isBlank()) {
          out.add(a.getAddress());
        }
      }
    } catch (AddressException e) {
      out.add(headerValue.trim()); // unparseable From: is nobody the mailbox may send as
    }
    return out;
  }

  /** The envelope recipients that no To: or Cc: header names (what a Bcc is on the wire). */
  private static List<String> hidden(byte[] mime, List<String> rcpts) {
    Set<String> visible = new java.util.HashSet<>();
    for (String h : List.of("To", "Cc")) {
      for (String a : addresses(rawHeader(mime, h))) {
        visible.add(a.toLowerCase(Locale.ROOT));
      }
    }
    List<String> hidden = new ArrayList<>();
    for (String r : rcpts) {
      if (!visible.contains(r.toLowerCase(Locale.ROOT))) {
        hidden.add(r);
      }
    }
    return hidden;
  }

  private static void sleep(long ms) {
    if (ms <= 0) {
      return;
    }
    try {
      Thread.sleep(ms); // the simulated submission time of Exchange, on this session's own thread
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void reply(String line) throws IOException {
    write(line + "\r\n");
  }

  private void write(String text) throws IOException {
    out.write(text.getBytes(StandardCharsets.UTF_8));
    out.flush();
  }
}
