package io.relay365.deliver;

import static org.assertj.core.api.Assertions.assertThat;

import io.relay365.deliver.GraphOutcomes.Step;
import io.relay365.deliver.Outcome.Kind;
import io.relay365.deliver.Outcome.Scope;
import io.vertx.core.VertxException;
import io.vertx.core.http.HttpClosedException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.security.cert.CertificateException;
import java.time.Duration;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** microsoft-wire.md §3: one test per row of GraphOutcomes. */
class GraphOutcomesTest {

  static String body(String code, String message) {
    return "{\"error\":{\"code\":\"" + code + "\",\"message\":\"" + message + "\",\"innerError\":{\"date\":"
        + "\"2026-12-04T07:00:00\",\"request-id\":\"94fb3b52-0000-4000-8000-000000000000\"}}}";
  }

  static final String RAOP = "{\"error\":{\"code\":\"ErrorAccessDenied\",\"message\":\"Access to OData is disabled:"
      + " [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.\"}}";

  static final String THROTTLED = "{\"error\":{\"code\":\"TooManyRequests\",\"message\":\"Please retry again later.\","
      + "\"innerError\":{\"code\":\"429\",\"date\":\"2020-08-18T12:51:51\",\"request-id\":\"94fb3b52-452a-4535-a601-"
      + "69e0a90e3aa2\",\"status\":\"429\"}}}";

  @Test
  void acceptedIsDelivered() {
    assertThat(GraphOutcomes.fromResponse(Step.SEND_MAIL, 202, null, "", false).isDelivered()).isTrue();
    assertThat(GraphOutcomes.fromResponse(Step.SEND_DRAFT, 202, null, null, false).isDelivered()).isTrue();
    // a 202 from a step that does not send is not a delivery
    assertThat(GraphOutcomes.fromResponse(Step.CREATE_DRAFT, 202, null, null, false).isDelivered()).isFalse();
  }

  @Test
  void invalidBase64IsARelayBugThatKeepsTheMailAndAlerts() {
    Outcome o = GraphOutcomes.fromResponse(Step.SEND_MAIL, 400, null,
        body("ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content."), false);
    assertThat(o.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(o.scope()).isEqualTo(Scope.RELAY);
    assertThat(o.code()).isEqualTo("ErrorMimeContentInvalidBase64String");
    assertThat(o.detail()).contains("Invalid base64 string for MIME content.").contains("relay bug");
  }

  @Test
  void unauthorizedOnceIsRetriedThenConfiguration() {
    String b = body("InvalidAuthenticationToken", "Access token validation failure. Invalid audience.");
    assertThat(GraphOutcomes.tokenRejected(401)).isTrue();
    assertThat(GraphOutcomes.tokenRejected(403)).isFalse();
    Outcome first = GraphOutcomes.fromResponse(Step.SEND_MAIL, 401, null, b, false);
    assertThat(first.kind()).isEqualTo(Kind.TRANSIENT);
    Outcome again = GraphOutcomes.fromResponse(Step.SEND_MAIL, 401, null, b, true);
    assertThat(again.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(again.scope()).isEqualTo(Scope.RELAY);
    assertThat(again.code()).isEqualTo("InvalidAuthenticationToken");
    assertThat(again.detail()).contains("Invalid audience").contains("graph.url").contains("microsoft.scope");
    Outcome noRoles = GraphOutcomes.fromResponse(Step.SEND_MAIL, 401, null,
        body("InvalidAuthenticationToken", "Either scp or roles claim need to be present in the token."), true);
    assertThat(noRoles.detail()).contains("Mail.Send").contains("admin consent");
  }

  @Test
  void accessPolicyDenialHoldsThatMailboxAndNamesThePolicy() {
    Outcome o = GraphOutcomes.fromResponse(Step.SEND_MAIL, 403, null, RAOP, false);
    assertThat(o.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(o.scope()).as("a policy excludes mailboxes one by one, as EwsOutcomes' 403").isEqualTo(Scope.MAILBOX);
    assertThat(o.code()).isEqualTo("ErrorAccessDenied");
    assertThat(o.detail()).contains("[RAOP]").contains("Application Access Policy")
        .contains("Test-ApplicationAccessPolicy");
  }

  @Test
  void accessDeniedWithoutPolicyNamesThePermissionOrRbacScope() {
    String b = body("ErrorAccessDenied", "Access is denied. Check credentials and try again.");
    Outcome send = GraphOutcomes.fromResponse(Step.SEND_MAIL, 403, null, b, false);
    assertThat(send.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(send.scope()).isEqualTo(Scope.MAILBOX);
    assertThat(send.detail()).contains("Mail.Send").contains("RBAC for Applications");
    Outcome draft = GraphOutcomes.fromResponse(Step.CREATE_DRAFT, 403, null, b, false);
    assertThat(draft.scope()).as("only large messages need it: the mailbox's small mail keeps flowing")
        .isEqualTo(Scope.MESSAGE);
    assertThat(draft.detail()).contains("Mail.ReadWrite");
  }

  @ParameterizedTest(name = "404 {0}")
  @CsvSource({"ErrorInvalidUser", "ErrorNonExistentMailbox", "MailboxNotEnabledForRESTAPI"})
  void noSuchMailboxIsConfigurationOfThatMailbox(String code) {
    Outcome o = GraphOutcomes.fromResponse(Step.SEND_MAIL, 404, null,
        body(code, "The requested user 'fax@contoso.com' is invalid."), false);
    assertThat(o.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(o.scope()).isEqualTo(Scope.MAILBOX);
    assertThat(o.code()).isEqualTo(code);
  }

  @Test
  void notFoundWithoutAGraphErrorMeansTheUrlIsWrong() {
    Outcome o = GraphOutcomes.fromResponse(Step.SEND_MAIL, 404, null, "<html>Not Found</html>", false);
    assertThat(o.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(o.scope()).isEqualTo(Scope.RELAY);
    assertThat(o.code()).isEqualTo("HTTP 404");
    assertThat(o.detail()).contains("graph.url");
    // a draft that vanished is built again
    Outcome gone = GraphOutcomes.fromResponse(Step.ADD_ATTACHMENT, 404, null,
        body("ErrorItemNotFound", "The specified object was not found in the store."), false);
    assertThat(gone.kind()).isEqualTo(Kind.TRANSIENT);
  }

  @Test
  void tooLargeOnSendMailTakesTheLargePathAndIsPermanentOnlyWhenThatCannotHelp() {
    String tooLarge = body("RequestBodyTooLarge", "The request body is too large.");
    assertThat(GraphOutcomes.needsLargePath(Step.SEND_MAIL, 413, tooLarge)).isTrue();
    assertThat(GraphOutcomes.needsLargePath(Step.SEND_MAIL, 413, null)).isTrue();
    assertThat(GraphOutcomes.needsLargePath(Step.CREATE_DRAFT, 413, tooLarge)).isFalse();
    // over the mailbox's MaxSendSize: no path can send it
    String maxSend = body("ErrorMessageSizeExceeded", "The message exceeds the maximum supported size.");
    assertThat(GraphOutcomes.needsLargePath(Step.SEND_MAIL, 413, maxSend)).isFalse();
    assertThat(GraphOutcomes.fromResponse(Step.SEND_DRAFT, 413, null, maxSend, false).kind())
        .isEqualTo(Kind.PERMANENT);
    // a request of the draft path refused as too large: the limit setting is wrong; keep the mail
    Outcome draft = GraphOutcomes.fromResponse(Step.CREATE_DRAFT, 413, null, tooLarge, false);
    assertThat(draft.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(draft.detail()).contains("graph.max-request-size");
    assertThat(GraphOutcomes.cannotSplit("x").kind()).isEqualTo(Kind.PERMANENT);
  }

  @ParameterizedTest(name = "{0} -> transient for the mailbox, Retry-After {1}")
  @CsvSource({"429, 7", "503, 30", "504, 120"})
  void throttlingAndUnavailabilityHoldTheMailboxForAtLeastRetryAfter(int status, long seconds) {
    Outcome o = GraphOutcomes.fromResponse(Step.SEND_MAIL, status, String.valueOf(seconds),
        status == 429 ? THROTTLED : body("serviceNotAvailable", "Service unavailable"), false);
    assertThat(o.kind()).isEqualTo(Kind.TRANSIENT);
    assertThat(o.scope()).isEqualTo(Scope.MAILBOX);
    assertThat(o.retryAfter()).isEqualTo(Duration.ofSeconds(seconds));
    assertThat(o.ambiguous()).isFalse();
    assertThat(o.code()).isEqualTo(status == 429 ? "TooManyRequests" : "HTTP " + status);
  }

  @Test
  void concurrencyThrottleIsTransientForTheMailbox() {
    Outcome o = GraphOutcomes.fromResponse(Step.SEND_MAIL, 429, "1",
        body("ApplicationThrottled", "Application is over its MailboxConcurrency limit."), false);
    assertThat(o.kind()).isEqualTo(Kind.TRANSIENT);
    assertThat(o.scope()).isEqualTo(Scope.MAILBOX);
    assertThat(o.code()).isEqualTo("ApplicationThrottled");
    assertThat(o.retryAfter()).isEqualTo(Duration.ofSeconds(1));
  }

  @Test
  void retryAfterMayBeAnHttpDate() {
    Outcome o = GraphOutcomes.fromResponse(Step.SEND_MAIL, 503, "Fri, 31 Dec 2100 23:59:59 GMT", null, false);
    assertThat(o.retryAfter()).isGreaterThan(Duration.ofDays(365));
    assertThat(GraphOutcomes.fromResponse(Step.SEND_MAIL, 503, "soon", null, false).retryAfter()).isNull();
  }

  @ParameterizedTest(name = "HTTP {0} -> transient for the message")
  @CsvSource({"500", "502", "507"})
  void otherServerErrorsAreTransientForTheMessage(int status) {
    Outcome o = GraphOutcomes.fromResponse(Step.SEND_MAIL, status, "5", body("generalException", "x"), false);
    assertThat(o.kind()).isEqualTo(Kind.TRANSIENT);
    assertThat(o.scope()).isEqualTo(Scope.MESSAGE);
    assertThat(o.code()).isEqualTo("HTTP " + status);
    assertThat(o.retryAfter()).isEqualTo(Duration.ofSeconds(5));
  }

  @ParameterizedTest(name = "{0} -> permanent")
  @CsvSource({"ErrorMimeContentInvalid", "ErrorMimeContentConversionFailed", "ErrorInvalidRecipients",
      "ErrorMessageSizeExceeded"})
  void badMessagesArePermanent(String code) {
    Outcome o = GraphOutcomes.fromResponse(Step.SEND_MAIL, 400, null, body(code, "x"), false);
    assertThat(o.kind()).isEqualTo(Kind.PERMANENT);
    assertThat(o.code()).isEqualTo(code);
  }

  @Test
  void unknownCodesAreTransientAndNeverBecomeAMetricsLabel() {
    Outcome o = GraphOutcomes.fromResponse(Step.SEND_MAIL, 400, null, body("ErrorSomethingNew-" + System.nanoTime(),
        "new"), false);
    assertThat(o.kind()).isEqualTo(Kind.TRANSIENT);
    assertThat(o.code()).isEqualTo("HTTP 400");
    assertThat(GraphOutcomes.fromResponse(Step.SEND_MAIL, 418, null, "not json", false).code()).isEqualTo("HTTP 418");
  }

  @Test
  void failuresBeforeTheRequestLeftAreTransientAndNotAmbiguous() {
    Outcome refused = GraphOutcomes.fromFailure(Step.SEND_MAIL, new ConnectException("Connection refused"));
    assertThat(refused.kind()).isEqualTo(Kind.TRANSIENT);
    assertThat(refused.code()).isEqualTo("connect");
    assertThat(refused.ambiguous()).isFalse();
    // Netty's connect timeout is a ConnectException
    Outcome slow = GraphOutcomes.fromFailure(Step.SEND_MAIL,
        new io.netty.channel.ConnectTimeoutException("connection timed out: graph.microsoft.com"));
    assertThat(slow.ambiguous()).isFalse();
    assertThat(GraphOutcomes.fromFailure(Step.SEND_MAIL, new UnknownHostException("graph.microsoft.com")).code())
        .isEqualTo("dns");
  }

  @Test
  void noAnswerAfterASubmittingRequestLeftIsAmbiguous() {
    for (Throwable e : new Throwable[] {new TimeoutException("The timeout period of 100000ms has been exceeded"),
        new SocketException("Connection reset"), new HttpClosedException("Connection was closed")}) {
      Outcome send = GraphOutcomes.fromFailure(Step.SEND_MAIL, e);
      assertThat(send.kind()).as(e.toString()).isEqualTo(Kind.TRANSIENT);
      assertThat(send.ambiguous()).as(e.toString()).isTrue();
      assertThat(GraphOutcomes.fromFailure(Step.SEND_DRAFT, e).ambiguous()).as(e.toString()).isTrue();
      // a draft step that broke off sent nothing
      assertThat(GraphOutcomes.fromFailure(Step.UPLOAD, e).ambiguous()).as(e.toString()).isFalse();
      assertThat(GraphOutcomes.fromFailure(Step.CREATE_DRAFT, e).ambiguous()).as(e.toString()).isFalse();
    }
  }

  @Test
  void tlsTrustFailureIsConfigurationNamingTheCaFile() {
    Outcome o = GraphOutcomes.fromFailure(Step.SEND_MAIL, new VertxException(new SSLHandshakeException(
        "PKIX path building failed"), true));
    assertThat(o.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(o.code()).isEqualTo("tls");
    assertThat(o.detail()).contains("microsoft.ca-file");
    assertThat(GraphOutcomes.fromFailure(Step.SEND_MAIL, new IOException("x", new CertificateException("No subject"
        + " alternative names matching IP address 127.0.0.1 found"))).code()).isEqualTo("tls");
  }

  @Test
  void tokenFailuresKeepTheirKind() {
    TokenException bad = new TokenException("AADSTS7000215: Invalid client secret provided.", "AADSTS7000215",
        "invalid_client", 401, Kind.CONFIGURATION, "paste the secret's Value", null);
    Outcome o = GraphOutcomes.fromFailure(Step.SEND_MAIL, new RuntimeException(bad));
    assertThat(o.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(o.code()).isEqualTo("AADSTS7000215");
    assertThat(o.scope()).isEqualTo(Scope.RELAY);
    TokenException down = new TokenException("HTTP 503", null, null, 503, Kind.TRANSIENT, null, null);
    assertThat(GraphOutcomes.fromFailure(Step.SEND_MAIL, down).kind()).isEqualTo(Kind.TRANSIENT);
  }

  @Test
  void failureTextsNeverCarryAnUploadUrlTokenOrABearerToken() {
    Outcome o = GraphOutcomes.fromFailure(Step.UPLOAD, new TimeoutException("The timeout period of 1000ms has been"
        + " exceeded while executing PUT /api/v2.0/Users('a')/Messages('b')/AttachmentSessions('c')?authtoken="
        + "eyJ0eXAi.secret.sig for server outlook.office.com:443"));
    assertThat(o.detail()).doesNotContain("eyJ0eXAi").doesNotContain("authtoken");
    assertThat(GraphOutcomes.redact("Authorization: Bearer eyJ0eXAi.abc.def failed")).doesNotContain("eyJ0eXAi");
  }
}
