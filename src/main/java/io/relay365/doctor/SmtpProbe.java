package io.relay365.doctor;

import io.relay365.config.Settings;
import io.relay365.deliver.SmtpOauthTransport;
import jakarta.mail.AuthenticationFailedException;
import jakarta.mail.MessagingException;
import jakarta.mail.Session;
import jakarta.mail.URLName;
import java.util.Properties;
import javax.net.ssl.SSLContext;
import org.eclipse.angus.mail.smtp.SMTPTransport;

/**
 * Harmless SMTP submission dialogues for the doctor, with the settings delivery uses
 * ({@link SmtpOauthTransport#properties}): the gate (connect, STARTTLS, EHLO: is AUTH XOAUTH2 offered?) and,
 * per mailbox, AUTH XOAUTH2 as the mailbox, MAIL FROM:&lt;mailbox&gt;, RSET, QUIT. Nothing is ever sent.
 */
final class SmtpProbe {

  /** What came back: the stage reached ("connect", "auth", "mail", "done"), the last reply, or a local failure. */
  record Result(String stage, int code, String reply, String authMechanisms, Throwable error) {
    boolean ok() {
      return error == null && "done".equals(stage);
    }
  }

  private final Settings.SmtpOauth smtp;
  private final Session withAuth;
  private final Session withoutAuth;

  SmtpProbe(Settings settings, SSLContext tls) {
    this.smtp = settings.smtpOauth();
    Properties p = SmtpOauthTransport.properties(smtp, settings.smtp().hostname(), tls, null);
    this.withAuth = Session.getInstance(p);
    Properties q = new Properties();
    q.putAll(p);
    q.put("mail.smtp.auth", "false");
    this.withoutAuth = Session.getInstance(q);
  }

  String server() {
    return smtp.host() + ":" + smtp.port();
  }

  /** Connect, STARTTLS (required), EHLO; reports the AUTH mechanisms offered inside TLS. */
  Result gate() {
    SMTPTransport t = new SMTPTransport(withoutAuth, new URLName("smtp", null, -1, null, null, null));
    try {
      t.connect(smtp.host(), smtp.port(), null, null);
      String auth = t.supportsExtension("AUTH") ? t.getExtensionParameter("AUTH") : "";
      return new Result("done", t.getLastReturnCode(), t.getLastServerResponse(), auth, null);
    } catch (MessagingException e) {
      return new Result("connect", t.getLastReturnCode(), t.getLastServerResponse(), null, e);
    } finally {
      close(t);
    }
  }

  /** AUTH XOAUTH2 as {@code mailbox}, MAIL FROM:&lt;mailbox&gt;, RSET, QUIT. */
  Result mailbox(String token, String mailbox) {
    SMTPTransport t = new SMTPTransport(withAuth, new URLName("smtp", null, -1, null, null, null));
    try {
      try {
        t.connect(smtp.host(), smtp.port(), mailbox, token);
      } catch (AuthenticationFailedException e) {
        return new Result("auth", t.getLastReturnCode(), t.getLastServerResponse(), null,
            t.getLastReturnCode() >= 400 ? null : e);
      }
      int code = t.simpleCommand("MAIL FROM:<" + mailbox + ">");
      String reply = t.getLastServerResponse();
      if (code != 250) {
        return new Result("mail", code, reply, null, null);
      }
      t.simpleCommand("RSET");
      return new Result("done", code, reply, null, null);
    } catch (MessagingException e) {
      return new Result("connect", t.getLastReturnCode(), t.getLastServerResponse(), null, e);
    } finally {
      close(t);
    }
  }

  private static void close(SMTPTransport t) {
    try {
      t.close(); // QUIT
    } catch (MessagingException | RuntimeException ignored) {
      // closing anyway
    }
  }
}
