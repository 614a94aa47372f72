package io.relay365.receive;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.subethamail.smtp.MessageHandler;
import org.subethamail.smtp.RejectException;
import org.subethamail.smtp.server.SMTPServer;

/**
 * subethasmtp 7.2.2 behaviour that SpoolingHandler works around, pinned against a bare handler so
 * that a library upgrade which changes it shows up here (libraries.md 3).
 */
class SubethaSmtpQuirksTest {
  private SMTPServer server;

  @AfterEach
  void stop() {
    if (server != null) {
      server.stop();
    }
  }

  private int start(boolean drain) {
    server = SMTPServer.port(0).bindAddress(InetAddress.getLoopbackAddress()).hostName("quirks.test")
        .maxMessageSize(1000)
        .messageHandlerFactory(ctx -> new MessageHandler() {
          @Override
          public void from(String from) {}

          @Override
          public void recipient(String recipient) {}

          @Override
          public String data(InputStream data) throws IOException, RejectException {
            if (drain) {
              data.transferTo(java.io.OutputStream.nullOutputStream());
            }
            throw new RejectException(451, "4.3.0 no");
          }

          @Override
          public void done() {}
        })
        .build();
    server.start();
    return server.getPortAllocated();
  }

  @Test
  void afterARejectedDataTheTransactionIsNotResetByTheLibrary() throws IOException {
    try (SmtpDialog d = new SmtpDialog(start(true))) {
      d.expect("220");
      d.send("EHLO x").expect("250");
      d.begin("a@example.com", "b@example.com");
      d.send("body").send(".").expect("451");
      // RFC 5321 4.1.1.4 says the end of DATA clears the transaction; 7.2.2 does not (SpoolingHandler.reject).
      assertThat(d.send("MAIL FROM:<a@example.com>").expect("503")).isEqualTo("503 5.5.1 Sender already specified.");
    }
  }

  @Test
  void rejectingWithoutDrainingRunsTheRestOfTheDataAsCommands() throws IOException {
    try (SmtpDialog d = new SmtpDialog(start(false))) {
      d.expect("220");
      d.send("EHLO x").expect("250");
      d.begin("a@example.com", "b@example.com");
      d.send("NOOP");
      // rejected after reading nothing: the "NOOP" body line is then answered as a command
      d.expect("451");
      assertThat(d.expect("250")).isEqualTo("250 Ok");
    }
  }

  @Test
  void aSizeParameterBeyondIntIsAnInternalError() throws IOException {
    // MailCommand parses SIZE= with Integer.parseInt: past 2^31-1 the session fails with 421 and closes.
    // Harmless (no real client declares > 2 GB), but the client will retry rather than bounce.
    try (SmtpDialog d = new SmtpDialog(start(true))) {
      d.expect("220");
      d.send("EHLO x").expect("250");
      d.send("MAIL FROM:<a@example.com> SIZE=99999999999");
      assertThat(d.expect("421")).isEqualTo("421 4.3.0 Mail system failure, closing transmission channel");
      assertThat(d.closedByServer()).isTrue();
    }
  }
}
