package io.relay365.deliver;

import static org.assertj.core.api.Assertions.assertThat;

import io.relay365.deliver.Outcome.Kind;
import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Map;
import javax.net.ssl.SSLHandshakeException;
import microsoft.exchange.webservices.data.core.exception.http.HttpErrorException;
import microsoft.exchange.webservices.data.core.exception.service.remote.ServiceRequestException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class EwsOutcomesTest {

  /** microsoft-wire.md §2.7, one row per ResponseCode: kind, and who else waits (scope). */
  @ParameterizedTest(name = "{0} -> {1} / {2}")
  @CsvSource({
      "ErrorServerBusy, TRANSIENT, MESSAGE",
      "ErrorExceededConnectionCount, TRANSIENT, MAILBOX",
      "ErrorSubmissionQuotaExceeded, TRANSIENT, MAILBOX",
      "ErrorInternalServerError, TRANSIENT, MESSAGE",
      "ErrorMailboxStoreUnavailable, TRANSIENT, MAILBOX",
      "ErrorMailboxMoveInProgress, TRANSIENT, MAILBOX",
      "ErrorConnectionFailed, TRANSIENT, MESSAGE",
      "ErrorInsufficientResources, TRANSIENT, MESSAGE",
      "ErrorTimeoutExpired, TRANSIENT, MESSAGE",
      "ErrorTooManyObjectsOpened, TRANSIENT, MESSAGE",
      "ErrorQuotaExceeded, TRANSIENT, MAILBOX",
      "ErrorAccessDenied, CONFIGURATION, MAILBOX",
      "ErrorImpersonateUserDenied, CONFIGURATION, MAILBOX",
      "ErrorSendAsDenied, CONFIGURATION, MAILBOX",
      "ErrorNonExistentMailbox, CONFIGURATION, MAILBOX",
      "ErrorAccountDisabled, CONFIGURATION, MAILBOX",
      "ErrorInvalidLicense, CONFIGURATION, MAILBOX",
      "ErrorMessageSizeExceeded, PERMANENT, MESSAGE",
      "ErrorInvalidRecipients, PERMANENT, MESSAGE",
      "ErrorInvalidSmtpAddress, PERMANENT, MESSAGE",
      "ErrorMimeContentInvalid, PERMANENT, MESSAGE",
      "ErrorMimeContentInvalidBase64String, PERMANENT, MESSAGE",
      "ErrorMimeContentConversionFailed, PERMANENT, MESSAGE",
      "ErrorMessageDispositionRequired, CONFIGURATION, RELAY",
      "ErrorInvalidExchangeImpersonationHeaderData, CONFIGURATION, RELAY",
      "ErrorSchemaValidation, CONFIGURATION, RELAY",
      "ErrorSomethingNewFromMicrosoft, TRANSIENT, MESSAGE"})
  void responseCodes(String code, Kind kind, Outcome.Scope scope) {
    Outcome o = EwsOutcomes.fromResponseCode(code, "text", Duration.ofSeconds(5));
    assertThat(o.kind()).isEqualTo(kind);
    assertThat(o.scope()).isEqualTo(scope);
    assertThat(o.ambiguous()).isFalse();
    assertThat(o.code()).isEqualTo(code);
    assertThat(o.retryAfter()).isEqualTo(kind == Kind.TRANSIENT ? Duration.ofSeconds(5) : null);
  }

  private static Throwable http(int status) {
    // the nesting ews-java-api produces for a 401 (libraries.md §4)
    return new ServiceRequestException("The request failed.",
        new ServiceRequestException("The request failed.", new HttpErrorException("(" + status + ")", status)));
  }

  @Test
  void firstUnauthorizedIsARetryableTokenProblem() {
    Map<String, String> h = Map.of("X-MS-Diagnostics", "2000001;reason=\"cannot be parsed\"");
    assertThat(EwsOutcomes.tokenRejected(http(401), h)).isTrue();
    assertThat(EwsOutcomes.classify(http(401), h, false).kind()).isEqualTo(Kind.TRANSIENT);
    assertThat(EwsOutcomes.classify(http(401), h, true).kind()).isEqualTo(Kind.CONFIGURATION);
  }

  @Test
  void unauthorizedWithoutPermissionsIsConfigurationAtOnce() {
    Map<String, String> h = Map.of("x-ms-diagnostics", "2000008;reason=\"The token contains no permissions\"");
    assertThat(EwsOutcomes.tokenRejected(http(401), h)).isFalse();
    Outcome o = EwsOutcomes.classify(http(401), h, false);
    assertThat(o.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(o.scope()).isEqualTo(Outcome.Scope.RELAY);
    assertThat(o.detail()).contains("2000008").contains("full_access_as_app");
  }

  @Test
  void forbiddenIsConfigurationNamingPolicyAndAllowList() {
    Outcome o = EwsOutcomes.classify(http(403), Map.of(), false);
    assertThat(o.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(o.code()).isEqualTo("HTTP 403");
    assertThat(o.detail()).contains("Application Access Policy").contains("EwsAllowedAppIDs");
    assertThat(o.scope()).as("an access policy excludes mailboxes one by one").isEqualTo(Outcome.Scope.MAILBOX);
    assertThat(EwsOutcomes.tokenRejected(http(403), Map.of())).isFalse();
  }

  @Test
  void serverErrorsAreTransientWithRetryAfter() {
    assertThat(EwsOutcomes.classify(http(503), Map.of("Retry-After", "120"), false))
        .isEqualTo(Outcome.transientFailure("HTTP 503", "EWS unavailable or throttling (requests queuing)",
            Duration.ofSeconds(120)));
    assertThat(EwsOutcomes.classify(http(502), null, false).kind()).isEqualTo(Kind.TRANSIENT);
    assertThat(EwsOutcomes.classify(http(404), null, false).kind()).isEqualTo(Kind.CONFIGURATION);
  }

  @Test
  void networkFailures() {
    assertThat(EwsOutcomes.classify(new ServiceRequestException("The request failed. Read timed out",
        new SocketTimeoutException("Read timed out")), null, false).code()).isEqualTo("timeout");
    assertThat(EwsOutcomes.classify(new ServiceRequestException("x", new ConnectException("refused")), null, false)
        .code()).isEqualTo("connect");
    assertThat(EwsOutcomes.classify(new UnknownHostException("outlook.office365.com"), null, false).code())
        .isEqualTo("dns");
    assertThat(EwsOutcomes.classify(new IOException("reset"), null, false).kind()).isEqualTo(Kind.TRANSIENT);
    Outcome tls = EwsOutcomes.classify(new ServiceRequestException("x", new SSLHandshakeException("PKIX")), null,
        false);
    assertThat(tls.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(tls.detail()).contains("microsoft.ca-file");
  }

  @Test
  void onlyFailuresAfterTheRequestLeftAreAmbiguous() {
    // sent, no answer: Exchange may have the message (possible duplicate on retry)
    assertThat(EwsOutcomes.classify(new ServiceRequestException("x", new SocketTimeoutException("Read timed out")),
        null, false).ambiguous()).isTrue();
    assertThat(EwsOutcomes.classify(new ServiceRequestException("x", new java.net.SocketException("Connection reset")),
        null, false).ambiguous()).isTrue();
    assertThat(EwsOutcomes.classify(new org.apache.http.NoHttpResponseException("failed to respond"), null, false)
        .ambiguous()).isTrue();
    // never sent
    assertThat(EwsOutcomes.classify(new ServiceRequestException("x", new ConnectException("refused")), null, false)
        .ambiguous()).isFalse();
    Outcome ct = EwsOutcomes.classify(new org.apache.http.conn.ConnectTimeoutException("connect timed out"), null,
        false);
    assertThat(ct.ambiguous()).isFalse();
    assertThat(ct.kind()).isEqualTo(Kind.TRANSIENT);
    assertThat(EwsOutcomes.classify(new UnknownHostException("h"), null, false).ambiguous()).isFalse();
    assertThat(EwsOutcomes.classify(http(503), null, false).ambiguous()).isFalse();
    assertThat(EwsOutcomes.fromResponseCode("ErrorServerBusy", "", null).ambiguous()).isFalse();
  }

  @Test
  void tokenEndpointUnreachableIsTransientAndAadstsMisconfigurationHoldsTheRelay() {
    TokenException unreachable = new TokenException("connect refused", null, "network", 0, Kind.TRANSIENT, null,
        new ConnectException("refused"));
    assertThat(EwsOutcomes.classify(unreachable, null, false).kind()).isEqualTo(Kind.TRANSIENT);
    for (String code : new String[] {"AADSTS7000215", "AADSTS7000222", "AADSTS700016"}) {
      TokenException t = new TokenException(code + ": x", code, "invalid_client", 401, Kind.CONFIGURATION, "fix", null);
      Outcome o = EwsOutcomes.classify(t, null, false);
      assertThat(o.kind()).as(code).isEqualTo(Kind.CONFIGURATION);
      assertThat(o.scope()).as(code).isEqualTo(Outcome.Scope.RELAY);
    }
  }

  @Test
  void tokenExceptionsKeepTheirKind() {
    TokenException t = new TokenException("AADSTS7000215: Invalid client secret provided.", "AADSTS7000215",
        "invalid_client", 401, Kind.CONFIGURATION, "paste the secret's Value", null);
    Outcome o = EwsOutcomes.classify(new RuntimeException(t), null, false);
    assertThat(o.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(o.code()).isEqualTo("AADSTS7000215");
    TokenException down = new TokenException("HTTP 503", null, null, 503, Kind.TRANSIENT, null, null);
    assertThat(EwsOutcomes.classify(down, null, false).kind()).isEqualTo(Kind.TRANSIENT);
  }

  @Test
  void unknownFailuresAreTransientWithTheirName() {
    Outcome o = EwsOutcomes.classify(new IllegalStateException("odd"), null, false);
    assertThat(o.kind()).isEqualTo(Kind.TRANSIENT);
    assertThat(o.code()).isEqualTo("IllegalStateException");
  }

  // ---- replies to the streamed CreateItem (EwsReply + fromReply): the same rows as the exceptions above ----

  private static final String SOAP = "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">"
      + "<s:Header/><s:Body><m:CreateItemResponse xmlns:m=\"m\" xmlns:t=\"t\"><m:ResponseMessages>";

  private static Outcome reply(int status, String body, Map<String, String> headers, boolean afterFresh) {
    return EwsOutcomes.fromReply(status, headers, EwsReply.parse(body.getBytes(java.nio.charset.StandardCharsets.UTF_8)),
        afterFresh);
  }

  @Test
  void successAndWarningRepliesAreDelivered() {
    assertThat(reply(200, SOAP + "<m:CreateItemResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError"
        + "</m:ResponseCode><m:Items/></m:CreateItemResponseMessage></m:ResponseMessages></m:CreateItemResponse>"
        + "</s:Body></s:Envelope>", Map.of(), false).kind()).isEqualTo(Kind.DELIVERED);
    assertThat(reply(200, SOAP + "<m:CreateItemResponseMessage ResponseClass=\"Warning\"><m:MessageText>w"
        + "</m:MessageText><m:ResponseCode>ErrorBatchProcessingStopped</m:ResponseCode><m:Items/>"
        + "</m:CreateItemResponseMessage></m:ResponseMessages></m:CreateItemResponse></s:Body></s:Envelope>",
        Map.of(), false).kind()).isEqualTo(Kind.DELIVERED);
  }

  @Test
  void anErrorReplyInsideHttp200IsItsResponseCodeWithTheBackOff() {
    Outcome o = reply(200, SOAP + "<m:CreateItemResponseMessage ResponseClass=\"Error\"><m:MessageText>The server"
        + " cannot service this request right now.</m:MessageText><m:ResponseCode>ErrorServerBusy</m:ResponseCode>"
        + "<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey><m:MessageXml><t:Value Name=\"BackOffMilliseconds\">"
        + "30000</t:Value></m:MessageXml><m:Items/></m:CreateItemResponseMessage></m:ResponseMessages>"
        + "</m:CreateItemResponse></s:Body></s:Envelope>", Map.of(), false);
    assertThat(o.kind()).isEqualTo(Kind.TRANSIENT);
    assertThat(o.code()).isEqualTo("ErrorServerBusy");
    assertThat(o.retryAfter()).isEqualTo(Duration.ofSeconds(30));
    assertThat(o.detail()).contains("cannot service");
    Outcome denied = reply(200, SOAP + "<m:CreateItemResponseMessage ResponseClass=\"Error\"><m:MessageText>no"
        + "</m:MessageText><m:ResponseCode>ErrorSendAsDenied</m:ResponseCode><m:Items/>"
        + "</m:CreateItemResponseMessage></m:ResponseMessages></m:CreateItemResponse></s:Body></s:Envelope>",
        Map.of(), false);
    assertThat(denied.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(denied.scope()).isEqualTo(Outcome.Scope.MAILBOX);
  }

  @Test
  void aSoapFaultIn500IsItsResponseCodeAndA500WithoutOneIsTransient() {
    Outcome o = reply(500, "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault>"
        + "<faultcode xmlns:a=\"t\">a:ErrorServerBusy</faultcode><faultstring xml:lang=\"en-US\">busy</faultstring>"
        + "<detail><e:ResponseCode xmlns:e=\"e\">ErrorServerBusy</e:ResponseCode><e:Message xmlns:e=\"e\">The"
        + " server cannot service this request right now.</e:Message><t:MessageXml xmlns:t=\"t\"><t:Value"
        + " Name=\"BackOffMilliseconds\">297749</t:Value></t:MessageXml></detail></s:Fault></s:Body></s:Envelope>",
        Map.of(), false);
    assertThat(o.code()).isEqualTo("ErrorServerBusy");
    assertThat(o.retryAfter()).isEqualTo(Duration.ofMillis(297749));
    Outcome nonExistent = reply(500, "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>"
        + "<s:Fault><faultcode>a:ErrorNonExistentMailbox</faultcode><faultstring>x</faultstring><detail>"
        + "<e:ResponseCode xmlns:e=\"e\">ErrorNonExistentMailbox</e:ResponseCode></detail></s:Fault></s:Body>"
        + "</s:Envelope>", Map.of(), false);
    assertThat(nonExistent.kind()).isEqualTo(Kind.CONFIGURATION);
    Outcome bare = reply(500, "", Map.of(), false);
    assertThat(bare.kind()).isEqualTo(Kind.TRANSIENT);
    assertThat(bare.code()).isEqualTo("HTTP 500");
  }

  @Test
  void aHttp200ThatIsNotSoapIsTransient() {
    Outcome o = reply(200, "<html>proxy login</html>", Map.of(), false);
    assertThat(o.kind()).isEqualTo(Kind.TRANSIENT);
    assertThat(o.code()).isEqualTo("bad-reply");
  }

  @Test
  void statusesWithoutSoapBodyAreClassifiedByStatusAsBefore() {
    Map<String, String> noPermission = Map.of("x-ms-diagnostics", "2000008;reason=\"The token contains no"
        + " permissions, or permissions can not be understood.\"");
    assertThat(EwsOutcomes.tokenRejected(401, Map.of("x-ms-diagnostics", "2000001;reason=\"x\""))).isTrue();
    assertThat(EwsOutcomes.tokenRejected(401, noPermission)).isFalse();
    assertThat(EwsOutcomes.tokenRejected(403, Map.of())).isFalse();
    assertThat(reply(401, "", noPermission, false).kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(reply(401, "", Map.of(), true).kind()).as("again after a fresh token").isEqualTo(Kind.CONFIGURATION);
    assertThat(reply(403, "", Map.of(), false).kind()).isEqualTo(Kind.CONFIGURATION);
    Outcome unavailable = reply(503, "", Map.of("Retry-After", "30"), false);
    assertThat(unavailable.kind()).isEqualTo(Kind.TRANSIENT);
    assertThat(unavailable.retryAfter()).isEqualTo(Duration.ofSeconds(30));
  }
}
