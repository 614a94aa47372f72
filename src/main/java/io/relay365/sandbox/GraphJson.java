package io.relay365.sandbox;

import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.UUID;

/**
 * Microsoft Graph's error bodies, {@code {"error":{"code","message","innerError":{…}}}} (microsoft-wire.md
 * §3), with the messages Graph is known to send. Where the text is not documented it is a GUESS and says so.
 */
final class GraphJson {
  private GraphJson() {}

  /** The exact body of an Application Access Policy denial (§3): no innerError. */
  static final String RAOP_BODY = "{\"error\":{\"code\":\"ErrorAccessDenied\",\"message\":\"Access to OData is"
      + " disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.\"}}";

  static final Map<String, String> TEXTS = Map.ofEntries(
      Map.entry("ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content."),
      Map.entry("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
      Map.entry("TooManyRequests", "Please retry again later."),
      Map.entry("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
      Map.entry("ErrorItemNotFound", "The specified object was not found in the store."),
      Map.entry("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
      // GUESS: texts below are Exchange's EWS texts for the same codes, or the sandbox's own words.
      Map.entry("ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it."),
      Map.entry("ErrorMimeContentInvalid", "The MIME content is not valid."),
      Map.entry("ErrorMimeContentConversionFailed", "Content conversion failed."),
      Map.entry("ErrorInvalidRecipients", "At least one recipient isn't valid."),
      Map.entry("ErrorMessageSizeExceeded", "The message exceeds the maximum supported size."),
      Map.entry("ErrorAttachmentSizeShouldNotBeLessThanMinimumSize",
          "Attachment size must be greater than the minimum size."),
      Map.entry("RequestBodyTooLarge", "The request body is larger than the service accepts."),
      Map.entry("serviceNotAvailable", "The service is temporarily unavailable. Please retry later."),
      Map.entry("generalException", "An unspecified error has occurred."),
      Map.entry("UnknownError", ""));

  /** The usual code for a status, for injected faults without one. */
  static String codeFor(int status) {
    return switch (status) {
      case 400 -> "ErrorMimeContentInvalidBase64String";
      case 401 -> "InvalidAuthenticationToken";
      case 403 -> "ErrorAccessDenied";
      case 404 -> "ErrorInvalidUser";
      case 413 -> "RequestBodyTooLarge";
      case 429 -> "TooManyRequests";
      case 503 -> "serviceNotAvailable";
      case 500 -> "generalException";
      default -> "UnknownError";
    };
  }

  static String text(String code) {
    return TEXTS.getOrDefault(code, "");
  }

  /** {@code {"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}}. */
  static String error(String code, String message, String clientRequestId) {
    String id = UUID.randomUUID().toString();
    JsonObject inner = new JsonObject().put("date", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString()
        .replace("Z", "")).put("request-id", id)
        .put("client-request-id", clientRequestId == null ? id : clientRequestId);
    return new JsonObject().put("error", new JsonObject().put("code", code)
        .put("message", message == null ? text(code) : message).put("innerError", inner)).encode();
  }

  /** The throttling body of §3 (innerError with code and status). */
  static String throttled(int status) {
    JsonObject inner = new JsonObject().put("code", String.valueOf(status))
        .put("date", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString().replace("Z", ""))
        .put("request-id", UUID.randomUUID().toString()).put("status", String.valueOf(status));
    return new JsonObject().put("error", new JsonObject().put("code", "TooManyRequests")
        .put("message", text("TooManyRequests")).put("innerError", inner)).encode();
  }
}
