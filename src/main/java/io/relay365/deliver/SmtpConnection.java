package io.relay365.deliver;

import io.relay365.deliver.SmtpOutcomes.Stage;
import jakarta.mail.AuthenticationFailedException;
import jakarta.mail.MessagingException;
import jakarta.mail.Session;
import jakarta.mail.URLName;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import javax.net.SocketFactory;
import org.eclipse.angus.mail.smtp.SMTPOutputStream;
import org.eclipse.angus.mail.smtp.SMTPSendFailedException;
import org.eclipse.angus.mail.smtp.SMTPTransport;

/**
 * One authenticated SMTP submission session as one mailbox, on angus-mail's {@link SMTPTransport}: angus does
 * the connect, STARTTLS (required, certificate and host name checked by the session's socket factory), EHLO
 * and AUTH XOAUTH2 ({@code user=<mailbox>^Aauth=Bearer <token>^A^A}, microsoft-wire.md §4). The transaction
 * is driven here, one command at a time, so that every reply comes back with the stage it answered
 * ({@link SmtpOutcomes} needs both) and a refusal of one recipient does not end the transaction.
 *
 * <p>Not thread-safe in use: one thread at a time (the transport leases it to one worker). Its toString()
 * never shows the token (angus's Service.toString() would print "smtp://user:TOKEN@host").
 */
final class SmtpConnection extends SMTPTransport {

  /** A reply, with the stage it answered. */
  record Reply(Stage stage, int code, String text) {
    boolean ok() {
      return code >= 200 && code < 400;
    }

    /** The connection is gone or going: 421 (closing, RFC 5321 3.8) or no reply at all. */
    boolean closing() {
      return code == 421 || code < 0;
    }
  }

  /** The server refused to open the session: greeting, EHLO, STARTTLS or AUTH got this reply. */
  static final class Refused extends MessagingException {
    final transient Reply reply;

    Refused(Reply reply, Exception cause) {
      super(reply.stage() + " refused: " + SmtpOutcomes.oneLine(reply.text()), cause);
      this.reply = reply;
    }
  }

  /**
   * The plain sockets angus opens, remembered per thread so that a connection can reach its own TCP socket:
   * closing only the TLS layer makes the JDK wait for the server's close_notify, up to the read timeout.
   */
  static final class TcpSockets extends SocketFactory {
    private static final ThreadLocal<Socket> LAST = new ThreadLocal<>();

    @Override
    public Socket createSocket() {
      Socket s = new Socket();
      LAST.set(s);
      return s;
    }

    @Override
    public Socket createSocket(String host, int port) throws IOException {
      return connected(createSocket(), new InetSocketAddress(host, port));
    }

    @Override
    public Socket createSocket(String host, int port, InetAddress local, int localPort)
        throws IOException {
      Socket s = createSocket();
      s.bind(new InetSocketAddress(local, localPort));
      return connected(s, new InetSocketAddress(host, port));
    }

    @Override
    public Socket createSocket(InetAddress host, int port) throws IOException {
      return connected(createSocket(), new InetSocketAddress(host, port));
    }

    @Override
    public Socket createSocket(InetAddress host, int port, InetAddress local, int localPort)
        throws IOException {
      Socket s = createSocket();
      s.bind(new InetSocketAddress(local, localPort));
      return connected(s, new InetSocketAddress(host, port));
    }

    private static Socket connected(Socket s, InetSocketAddress to) throws IOException {
      s.connect(to);
      return s;
    }

    /** The socket this thread created last (and forgets it). */
    static Socket take() {
      Socket s = LAST.get();
      LAST.remove();
      return s;
    }
  }

  /** How long closing waits for the server's side of the TLS close (close_notify). */
  private static final int CLOSE_WAIT_MS = 200;

  final String mailbox;
  final String token;
  final long opened = System.nanoTime();
  long lastUsed = System.nanoTime();
  private Stage stage = Stage.GREETING;
  private boolean dotSent;
  private boolean healthy = true;
  private Socket tcp;

  SmtpConnection(Session session, String mailbox, String token) {
    super(session, new URLName("smtp", null, -1, null, null, null));
    this.mailbox = mailbox;
    this.token = token;
  }

  /**
   * Connects, STARTTLS, EHLO, AUTH XOAUTH2. Throws {@link Refused} when the server answered with a refusal,
   * any other MessagingException for network and TLS failures (see {@link SmtpOutcomes#fromFailure}).
   */
  synchronized void open(String host, int port) throws MessagingException {
    TcpSockets.take();
    try {
      try {
        connect(host, port, mailbox, token);
      } finally {
        tcp = TcpSockets.take();
      }
    } catch (AuthenticationFailedException e) {
      if (getLastReturnCode() >= 400) {
        throw new Refused(new Reply(Stage.AUTH, getLastReturnCode(), getLastServerResponse()), e);
      }
      throw new MessagingException("the SMTP server does not offer AUTH XOAUTH2: " + e.getMessage(), e);
    } catch (MessagingException e) {
      int code = getLastReturnCode();
      if (code >= 400 && !(e.getNextException() instanceof IOException)) {
        throw new Refused(new Reply(stage, code, getLastServerResponse()), e);
      }
      throw e;
    }
    // angus skips AUTH when the server offers none: never go on unauthenticated.
    if (!supportsAuthentication("XOAUTH2")) {
      closeQuietly();
      throw new MessagingException("the SMTP server does not offer AUTH XOAUTH2 after STARTTLS");
    }
  }

  @Override
  protected boolean ehlo(String domain) throws MessagingException {
    stage = Stage.EHLO;
    return super.ehlo(domain);
  }

  @Override
  protected void helo(String domain) throws MessagingException {
    stage = Stage.EHLO;
    super.helo(domain);
  }

  @Override
  protected void startTLS() throws MessagingException {
    stage = Stage.STARTTLS;
    super.startTLS();
  }

  /** MAIL FROM with SIZE (RFC 1870), BODY=8BITMIME (RFC 6152) and SMTPUTF8 (RFC 6531) when offered and needed. */
  synchronized Reply mailFrom(String from, long size, boolean eightBit, boolean utf8) throws MessagingException {
    dotSent = false;
    StringBuilder cmd = new StringBuilder("MAIL FROM:<").append(from).append('>');
    if (supportsExtension("SIZE")) {
      cmd.append(" SIZE=").append(size);
    }
    if (eightBit && supportsExtension("8BITMIME")) {
      cmd.append(" BODY=8BITMIME");
    }
    if (utf8 && supportsExtension("SMTPUTF8")) {
      cmd.append(" SMTPUTF8");
    }
    return command(Stage.MAIL, cmd.toString());
  }

  synchronized Reply rcptTo(String rcpt) throws MessagingException {
    return command(Stage.RCPT, "RCPT TO:<" + rcpt + ">");
  }

  /**
   * DATA, the message (dot-stuffed by angus's SMTPOutputStream, RFC 5321 4.5.2), then the final ".". The reply
   * to DATA (stage DATA) if it was not 354, else the reply to the final "." (stage DOT). After this call
   * {@link #dotSent()} says whether the end of the message went out.
   */
  synchronized Reply data(OutgoingMime message) throws MessagingException, IOException {
    OutputStream out;
    try {
      out = super.data(); // DATA, expecting 354
    } catch (SMTPSendFailedException e) {
      return reply(Stage.DATA, e.getReturnCode(), e.getMessage());
    }
    try {
      message.writeTo(out);
      ((SMTPOutputStream) out).ensureAtBOL();
    } catch (IOException e) {
      healthy = false; // half a message on the wire: only closing the connection discards it
      throw e;
    }
    dotSent = true;
    return command(Stage.DOT, ".");
  }

  /** RSET; false (and not reusable) if the server did not answer 250. */
  synchronized boolean reset() {
    try {
      int code = simpleCommand("RSET");
      if (code != 250) {
        healthy = false;
      }
    } catch (MessagingException e) {
      healthy = false;
    }
    return healthy;
  }

  boolean dotSent() {
    return dotSent;
  }

  /** Still fit for another message: nothing went wrong on the wire and the server is not closing. */
  boolean healthy() {
    return healthy && isOpen();
  }

  /** Service.isConnected(), without the NOOP round trip that SMTPTransport.isConnected() makes. */
  private boolean isOpen() {
    try {
      checkConnected();
      return true;
    } catch (IllegalStateException e) {
      return false;
    }
  }

  /** QUIT without waiting for its reply (mail.smtp.quitwait=false), then close. Never throws. */
  void closeQuietly() {
    healthy = false;
    try {
      if (tcp != null) {
        tcp.setSoTimeout(CLOSE_WAIT_MS); // a server that does not answer must not hold this thread
      }
    } catch (SocketException ignored) {
      // already closed
    }
    try {
      close();
    } catch (MessagingException | RuntimeException ignored) {
      // closing anyway
    } finally {
      try {
        if (tcp != null) {
          tcp.close();
        }
      } catch (IOException ignored) {
        // closed
      }
    }
  }

  private Reply command(Stage s, String cmd) throws MessagingException {
    try {
      int code = simpleCommand(cmd);
      return reply(s, code, getLastServerResponse());
    } catch (MessagingException e) {
      healthy = false;
      throw e;
    }
  }

  private Reply reply(Stage s, int code, String text) {
    Reply r = new Reply(s, code, text == null ? "" : text);
    if (r.closing()) {
      healthy = false;
    }
    return r;
  }

  @Override
  public String toString() {
    return "SmtpConnection[" + mailbox + "]";
  }
}
