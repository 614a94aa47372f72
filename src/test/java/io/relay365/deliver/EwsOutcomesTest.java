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

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
      "ErrorServerBusy, TRANSIENT",
      "ErrorExceededConnectionCount, TRANSIENT",
      "ErrorSubmissionQuotaExceeded, TRANSIENT",
      "ErrorInternalServerError, TRANSIENT",
      "ErrorMailboxStoreUnavailable, TRANSIENT",
      "ErrorMailboxMoveInProgress, TRANSIENT",
      "ErrorConnectionFailed, TRANSIENT",
      "ErrorInsufficientResources, TRANSIENT",
      "ErrorTimeoutExpired, TRANSIENT",
      "ErrorTooManyObjectsOpened, TRANSIENT",
      "ErrorQuotaExceeded, TRANSIENT",
      "ErrorAccessDenied, CONFIGURATION",
      "ErrorImpersonateUserDenied, CONFIGURATION",
      "ErrorSendAsDenied, CONFIGURATION",
      "ErrorNonExistentMailbox, CONFIGURATION",
      "ErrorAccountDisabled, CONFIGURATION",
      "ErrorInvalidLicense, CONFIGURATION",
      "ErrorMessageSizeExceeded, PERMANENT",
      "ErrorInvalidRecipients, PERMANENT",
      "ErrorInvalidSmtpAddress, PERMANENT",
      "ErrorMimeContentInvalid, PERMANENT",
      "ErrorMimeContentInvalidBase64String, PERMANENT",
      "ErrorMimeContentConversionFailed, PERMANENT",
      "ErrorMessageDispositionRequired, CONFIGURATION",
      "ErrorInvalidExchangeImpersonationHeaderData, CONFIGURATION",
      "ErrorSchemaValidation, CONFIGURATION",
      "ErrorSomethingNewFromMicrosoft, TRANSIENT"})
  void responseCodes(String code, Kind kind) {
    Outcome o = EwsOutcomes.fromResponseCode(code, "text", Duration.ofSeconds(5));
    assertThat(o.kind()).isEqualTo(kind);
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
    assertThat(o.detail()).contains("2000008").contains("full_access_as_app");
  }

  @Test
  void forbiddenIsConfigurationNamingPolicyAndAllowList() {
    Outcome o = EwsOutcomes.classify(http(403), Map.of(), false);
    assertThat(o.kind()).isEqualTo(Kind.CONFIGURATION);
    assertThat(o.code()).isEqualTo("HTTP 403");
    assertThat(o.detail()).contains("Application Access Policy").contains("EwsAllowedAppIDs");
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
}
