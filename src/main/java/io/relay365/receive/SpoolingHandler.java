package io.relay365.receive;

import io.relay365.config.Settings.BareLf;
import io.relay365.store.Envelope;
import io.relay365.store.Incoming;
import io.relay365.store.Spool;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.subethamail.smtp.MessageContext;
import org.subethamail.smtp.MessageHandler;
import org.subethamail.smtp.RejectException;
import org.subethamail.smtp.server.Session;

/**
 * One mail transaction (MAIL, RCPT..., DATA) of one SMTP session; subethasmtp makes one per MAIL.
 * DATA streams the message into the spool while counting its size, then commits it durably; the 250
 * reply is sent only after the commit returned (RFC 5321 6.1: once 250 is sent the relay owns the mail).
 * Every rejection of DATA reads the data to its final dot first: subethasmtp only skips the rest of the
 * data when data() returns normally, so throwing early would run the remaining lines as commands.
 */
final class SpoolingHandler implements MessageHandler {
  static final Logger MAIL_LOG = LoggerFactory.getLogger("relay365.mail");
  private static final Logger log = LoggerFactory.getLogger(SpoolingHandler.class);
  private static final int CHUNK = 64 * 1024;

  static final String TOO_BIG = "5.3.4 Message size exceeds fixed maximum message size";
  static final String QUEUE_FAILED = "4.3.0 Failed to queue message, try again later";
  static final String BARE_LINE_END = "5.5.2 Message refused: bare CR or LF in the content; lines must end in CRLF";

  private final MessageContext ctx;
  private final Spool spool;
  private final Consumer<Envelope> onQueued;
  private final long maxMessageSize;
  private final String hostname;
  private final IdRandom random;
  private final BareLf bareLf;
  private String sender = "";
  private final List<String> recipients = new ArrayList<>();

  /** Source of the random part of generated Message-IDs (package-private for tests). */
  interface IdRandom {
    String next();
  }

  SpoolingHandler(MessageContext ctx, Spool spool, Consumer<Envelope> onQueued, long maxMessageSize, String hostname,
      IdRandom random) {
    this(ctx, spool, onQueued, maxMessageSize, hostname, random, BareLf.NORMALIZE);
  }

  SpoolingHandler(MessageContext ctx, Spool spool, Consumer<Envelope> onQueued, long maxMessageSize, String hostname,
      IdRandom random, BareLf bareLf) {
    this.bareLf = bareLf;
    this.ctx = ctx;
    this.spool = spool;
    this.onQueued = onQueued;
    this.maxMessageSize = maxMessageSize;
    this.hostname = hostname;
    this.random = random;
  }

  @Override
  public void from(String from) {
    // subethasmtp passes "" for MAIL FROM:<> (the null reverse-path of bounces, RFC 5321 4.5.5).
    this.sender = from == null ? "" : from;
  }

  @Override
  public void recipient(String recipient) {
    recipients.add(recipient);
  }

  @Override
  public String data(InputStream data) throws RejectException, IOException {
    String client = clientIp();
    String helo = ctx.getHelo().orElse("");
    Incoming incoming = null;
    MessageIdInserter body = null;
    LineEndings lines = null;
    IOException spoolError = null;
    boolean tooBig = false;
    long received = 0;
    try {
      try {
        incoming = spool.begin();
        OutputStream out = incoming.body();
        out.write(TraceHeaders.received(helo, client, hostname, incoming.id(), recipients.get(0), ZonedDateTime.now()));
        body = new MessageIdInserter(out, TraceHeaders.messageId(incoming.id(), random.next(), hostname));
        lines = new LineEndings(body);
      } catch (IOException e) {
        spoolError = e;
      }
      byte[] buf = new byte[CHUNK];
      int n;
      // An IOException from read() is the client's connection failing: it propagates (421 + close),
      // and the finally block drops the temp entry.
      while ((n = data.read(buf)) != -1) {
        received += n;
        if (tooBig || spoolError != null) {
          continue; // drain to the final dot
        }
        if (received > maxMessageSize) {
          // RFC 5321 4.5.3.1.7 / RFC 1870: refuse with 552 after the end of data, not by cutting the stream.
          tooBig = true;
          incoming = closeQuietly(incoming);
          continue;
        }
        try {
          lines.write(buf, 0, n);
        } catch (IOException e) {
          spoolError = e;
          incoming = closeQuietly(incoming);
        }
      }
      Verbs.noteEarlyTalker(ctx);
      if (tooBig) {
        log.info("Rejected message from {} ({}): {} bytes or more, limit {}", client, sender, received, maxMessageSize);
        throw reject(552, TOO_BIG);
      }
      Envelope envelope;
      try {
        if (spoolError != null) {
          throw spoolError;
        }
        lines.finish();
        if (lines.changed()) {
          // Only CRLF.CRLF ended the data (subethasmtp's reader); these line ends were content (models.md, smuggling)
          MAIL_LOG.info("bare-line-ends client={} from={} bare-lf={} bare-cr={} action={}", client,
              sender.isEmpty() ? "<>" : Access.logSafe(sender), lines.bareLf(), lines.bareCr(),
              bareLf == BareLf.REJECT ? "rejected" : "normalized");
          if (bareLf == BareLf.REJECT) {
            incoming = closeQuietly(incoming);
            throw reject(550, BARE_LINE_END);
          }
        }
        body.finish();
        envelope = incoming.commit(sender, recipients, client, helo);
      } catch (IOException e) {
        log.error("Could not queue message from {} ({}): {}", client, sender, e.toString());
        throw reject(451, QUEUE_FAILED);
      }
      MAIL_LOG.info("accepted id={} from={} rcpt={} client={} size={}", envelope.id(),
          envelope.nullSender() ? "<>" : envelope.sender(), String.join(",", envelope.recipients()), client,
          envelope.size());
      try {
        onQueued.accept(envelope);
      } catch (RuntimeException e) {
        // the message is durably queued; the queue runner will find it on its next scan
        log.error("onQueued failed for {}: {}", envelope.id(), e.toString(), e);
      }
      // subethasmtp prefixes "250 ": the reply is "250 2.0.0 Ok: queued as <id>" (the form Postfix uses).
      return "2.0.0 Ok: queued as " + envelope.id();
    } finally {
      closeQuietly(incoming);
    }
  }

  /**
   * RFC 5321 4.1.1.4: the end of DATA clears the transaction whatever the outcome. subethasmtp 7.2.2
   * only resets it after a 250, so a MAIL after a rejected DATA would get "503 5.5.1 Sender already
   * specified"; reset it here before the rejection (this calls done() on this handler).
   */
  private RejectException reject(int code, String text) {
    if (ctx instanceof Session) {
      ((Session) ctx).resetMailTransaction();
    }
    return new RejectException(code, text);
  }

  private String clientIp() {
    SocketAddress a = ctx.getRemoteAddress();
    if (a instanceof InetSocketAddress && ((InetSocketAddress) a).getAddress() != null) {
      return ((InetSocketAddress) a).getAddress().getHostAddress();
    }
    return String.valueOf(a);
  }

  private static Incoming closeQuietly(Incoming incoming) {
    if (incoming != null) {
      incoming.close();
    }
    return null;
  }

  @Override
  public void done() {
    // nothing held between calls: data() releases its temp entry itself
  }
}
