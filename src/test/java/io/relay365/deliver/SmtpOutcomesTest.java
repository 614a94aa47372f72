package io.relay365.deliver;

import static org.assertj.core.api.Assertions.assertThat;

import io.relay365.deliver.Outcome.Kind;
import io.relay365.deliver.Outcome.Scope;
import io.relay365.deliver.SmtpOutcomes.Stage;
import jakarta.mail.MessagingException;
import java.io.EOFException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.security.cert.CertificateException;
import java.time.Duration;
import javax.net.ssl.SSLHandshakeException;
import org.eclipse.angus.mail.util.MailConnectException;
import org.eclipse.angus.mail.util.SocketConnectException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** One row per reply Exchange Online's client submission gives (microsoft-wire.md §4, §5), as {@link SmtpOutcomes} maps it. */
class SmtpOutcomesTest {

  @ParameterizedTest(name = "{0} {1} -> {3} / {4}")
  @CsvSource(delimiter = '|', value = {
      // stage | code | reply text (as the server sent it) | kind | scope | label
      "AUTH | 235 | 235 2.7.0 Authentication successful | DELIVERED | MESSAGE | NoError",
      "DOT  | 250 | 250 2.0.0 OK <id@x> [Hostname=AM0PR01MB0001]| DELIVERED | MESSAGE | NoError",
      // SMTP.SendAsApp not consented, no New-ServicePrincipal, no FullAccess, SMTP AUTH off: all say just this
      "AUTH | 535 | 535 5.7.3 Authentication unsuccessful [AM0PR01MB0001.eurprd01.prod.outlook.com] | CONFIGURATION | MAILBOX | SMTP 535 5.7.3",
      "AUTH | 535 | 535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. [host] | CONFIGURATION | RELAY | SMTP 535 5.7.139",
      "AUTH | 535 | 535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information. [host] | CONFIGURATION | MAILBOX | SMTP 535 5.7.139",
      "AUTH | 535 | 535 5.7.139 Authentication unsuccessful, basic authentication is disabled. [host] | CONFIGURATION | RELAY | SMTP 535 5.7.139",
      "AUTH | 550 | 550 5.7.30 Basic authentication is not supported for Client Submission. | CONFIGURATION | RELAY | SMTP 550 5.7.30",
      "MAIL | 530 | 530 5.7.57 Client not authenticated to send mail. [host] | CONFIGURATION | RELAY | SMTP 530 5.7.57",
      "AUTH | 530 | 530 5.7.0 Must issue a STARTTLS command first | CONFIGURATION | RELAY | SMTP 530 5.7.0",
      "DOT  | 554 | 554 5.2.252 SendAsDenied; scanner@contoso.com not allowed to send as ceo@contoso.com; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied | CONFIGURATION | MAILBOX | SMTP 554 5.2.252",
      "MAIL | 550 | 550 5.7.60 SMTP; Client does not have permissions to send as this sender | CONFIGURATION | MAILBOX | SMTP 550 5.7.60",
      // the 30 messages a minute rejection: a 5xx that only means "later"
      "DOT  | 554 | 554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception | TRANSIENT | MAILBOX | SMTP 554 5.2.0",
      "DOT  | 432 | 432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded [Hostname=host] | TRANSIENT | MAILBOX | SMTP 432 4.3.2",
      "MAIL | 421 | 421 4.3.2 Service not available, closing transmission channel | TRANSIENT | MESSAGE | SMTP 421 4.3.2",
      "GREETING | 421 | 421 4.3.2 Service not available | TRANSIENT | MESSAGE | SMTP 421 4.3.2",
      "DOT  | 451 | 451 4.7.500 Server busy. Please try again later. | TRANSIENT | MESSAGE | SMTP 451 4.7.500",
      "RCPT | 452 | 452 4.5.3 Too many recipients | TRANSIENT | MESSAGE | SMTP 452 4.5.3",
      "DOT  | 450 | 450 4.7.1 something new | TRANSIENT | MESSAGE | SMTP 450 4.7.1",
      "DOT  | 552 | 552 5.3.4 Message size exceeds fixed maximum message size | PERMANENT | MESSAGE | SMTP 552 5.3.4",
      "MAIL | 552 | 552 5.3.4 Message size exceeds fixed maximum message size | PERMANENT | MESSAGE | SMTP 552 5.3.4",
      // RFC 5321 4.5.3.1.10: 552 to RCPT is "too many recipients", temporary
      "RCPT | 552 | 552 5.5.3 Too many recipients | TRANSIENT | MESSAGE | SMTP 552 5.5.3",
      "RCPT | 550 | 550 5.1.1 User unknown | PERMANENT | MESSAGE | SMTP 550 5.1.1",
      "RCPT | 501 | 501 5.1.3 Invalid address | PERMANENT | MESSAGE | SMTP 501 5.1.3",
      "DOT  | 550 | 550 5.7.705 Access denied, tenant has exceeded threshold | CONFIGURATION | RELAY | SMTP 550 5.7.705",
      "DOT  | 550 | 550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP | CONFIGURATION | RELAY | SMTP 550 5.7.708",
      "DOT  | 550 | 550 5.1.8 Access denied, bad outbound sender | CONFIGURATION | MAILBOX | SMTP 550 5.1.8",
      "DOT  | 554 | 554 5.6.0 Corrupt message content | PERMANENT | MESSAGE | SMTP 554 5.6.0",
      // MAIL FROM is always the sending mailbox: its refusal is about the mailbox
      "MAIL | 550 | 550 5.1.0 Sender denied | CONFIGURATION | MAILBOX | SMTP 550 5.1.0",
      // a session refused at EHLO or STARTTLS never bounces a message
      "EHLO | 554 | 554 5.7.1 Go away | CONFIGURATION | RELAY | SMTP 554 5.7.1",
      "STARTTLS | 454 | 454 4.7.0 TLS not available due to local problem | TRANSIENT | MESSAGE | SMTP 454 4.7.0",
      "AUTH | 504 | 504 5.7.4 Unrecognized authentication type [host] | CONFIGURATION | RELAY | SMTP 504 5.7.4",
      "DOT  | 554 | 554 Transaction failed | PERMANENT | MESSAGE | SMTP 554"})
  void replies(Stage stage, int code, String text, Kind kind, Scope scope, String label) {
    Outcome o = SmtpOutcomes.fromReply(stage, code, text);
    assertThat(o.kind()).isEqualTo(kind);
    assertThat(o.scope()).isEqualTo(scope);
    assertThat(o.code()).isEqualTo(label);
    assertThat(o.ambiguous()).as("a reply is an answer").isFalse();
    if (kind != Kind.DELIVERED) {
      assertThat(o.detail()).as("the detail quotes Exchange").contains(text.substring(4, Math.min(text.length(), 30)));
    }
  }

  @Test
  void theSubmissionQuotaHoldsTheMailboxForAMinute() {
    Outcome o = SmtpOutcomes.fromReply(Stage.DOT, 554, "554 5.2.0 STOREDRV.Submission.Exception:"
        + "SubmissionQuotaExceededException; Failed to process message");
    assertThat(o.retryAfter()).isEqualTo(Duration.ofSeconds(60));
    assertThat(o.detail()).contains("30 messages a minute").contains("delivery.per-mailbox-rate");
  }

  @Test
  void authRefusalNamesEveryFix() {
    Outcome o = SmtpOutcomes.fromReply(Stage.AUTH, 535, "535 5.7.3 Authentication unsuccessful [host]");
    assertThat(o.detail()).contains("SMTP.SendAsApp").contains("admin consent").contains("New-ServicePrincipal")
        .contains("Enterprise application").contains("Add-MailboxPermission").contains("FullAccess")
        .contains("SmtpClientAuthenticationDisabled");
    assertThat(SmtpOutcomes.fromReply(Stage.DOT, 554, "554 5.2.252 SendAsDenied; a not allowed to send as b").detail())
        .contains("Add-RecipientPermission").contains("sender.mode");
  }

  @Test
  void onlyA5dot7dot3MayBeCuredByAFreshToken() {
    assertThat(SmtpOutcomes.tokenMayBeStale(535, "535 5.7.3 Authentication unsuccessful [host]")).isTrue();
    assertThat(SmtpOutcomes.tokenMayBeStale(535, "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication"
        + " is disabled for the Tenant.")).isFalse();
    assertThat(SmtpOutcomes.tokenMayBeStale(530, "530 5.7.57 Client not authenticated")).isFalse();
  }

  @Test
  void multiLineRepliesAreOneLine() {
    Outcome o = SmtpOutcomes.fromReply(Stage.DOT, 451, "451-4.7.500 Server busy.\n451 4.7.500 Try later\n");
    assertThat(o.code()).isEqualTo("SMTP 451 4.7.500");
    assertThat(o.detail()).contains("Server busy. 4.7.500 Try later").doesNotContain("\n");
  }

  // ---- failures that are not replies -----------------------------------------------------------

  @Test
  void beforeTheConnectionNothingCanHaveBeenSent() {
    Outcome refused = SmtpOutcomes.fromFailure(new MailConnectException(new SocketConnectException("refused",
        new ConnectException("Connection refused"), "smtp.office365.com", 587, 100_000)), false);
    assertThat(refused.code()).isEqualTo("connect");
    assertThat(refused.kind()).isEqualTo(Kind.TRANSIENT);
    assertThat(refused.ambiguous()).isFalse();
    assertThat(refused.detail()).contains("587");
    Outcome dns = SmtpOutcomes.fromFailure(new MessagingException("Unknown SMTP host: smtp.office365.com",
        new UnknownHostException("smtp.office365.com")), false);
    assertThat(dns.code()).isEqualTo("dns");
    assertThat(dns.ambiguous()).isFalse();
  }

  @Test
  void timeoutOrResetAfterTheFinalDotIsAmbiguous() {
    Exception timeout = new MessagingException("Exception reading response", new SocketTimeoutException("Read timed out"));
    Outcome after = SmtpOutcomes.fromFailure(timeout, true);
    assertThat(after.ambiguous()).isTrue();
    assertThat(after.code()).isEqualTo("timeout");
    Outcome before = SmtpOutcomes.fromFailure(timeout, false);
    assertThat(before.ambiguous()).as("without the final dot Exchange discards the message").isFalse();
    assertThat(before.kind()).isEqualTo(Kind.TRANSIENT);
    Outcome reset = SmtpOutcomes.fromFailure(new MessagingException("Exception reading response",
        new SocketException("Connection reset")), true);
    assertThat(reset.ambiguous()).isTrue();
    assertThat(reset.code()).isEqualTo("network");
    assertThat(SmtpOutcomes.closed(Stage.DOT, true).ambiguous()).isTrue();
    assertThat(SmtpOutcomes.closed(Stage.RCPT, false).ambiguous()).isFalse();
    assertThat(SmtpOutcomes.fromFailure(new EOFException("eof"), false).kind()).isEqualTo(Kind.TRANSIENT);
  }

  @Test
  void missingStartTlsOrAnUntrustedCertificateIsConfiguration() {
    Outcome starttls = SmtpOutcomes.fromFailure(new MessagingException(
        "STARTTLS is required but host does not support STARTTLS"), false);
    assertThat(starttls.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(starttls.code()).isEqualTo("starttls");
    assertThat(starttls.detail()).contains("587").contains("clear text");
    Outcome pkix = SmtpOutcomes.fromFailure(new MessagingException("Could not convert socket to TLS",
        new SSLHandshakeException("PKIX path building failed")), false);
    assertThat(pkix.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(pkix.code()).isEqualTo("tls");
    assertThat(pkix.detail()).contains("microsoft.ca-file");
    Outcome name = SmtpOutcomes.fromFailure(new MessagingException("x", new IOException(
        "Unable to check server identity for: smtp.office365.com", new CertificateException("No name matching"))),
        false);
    assertThat(name.code()).isEqualTo("tls");
    Outcome noXoauth = SmtpOutcomes.fromFailure(new MessagingException(
        "the SMTP server does not offer AUTH XOAUTH2 after STARTTLS"), false);
    assertThat(noXoauth.kind()).isEqualTo(Kind.CONFIGURATION);
  }

  @Test
  void tokenFailuresKeepTheirKind() {
    TokenException t = new TokenException("AADSTS7000215: Invalid client secret provided.", "AADSTS7000215",
        "invalid_client", 401, Kind.CONFIGURATION, "paste the secret's Value", null);
    Outcome o = SmtpOutcomes.fromFailure(new RuntimeException(t), false);
    assertThat(o.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(o.code()).isEqualTo("AADSTS7000215");
  }

  @Test
  void unknownFailuresAreTransientWithTheirName() {
    Outcome o = SmtpOutcomes.fromFailure(new IllegalStateException("odd"), false);
    assertThat(o.kind()).isEqualTo(Kind.TRANSIENT);
    assertThat(o.code()).isEqualTo("IllegalStateException");
  }
}
