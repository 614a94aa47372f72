package io.relay365.sandbox;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Entra ID token-endpoint errors in the exact shape of microsoft-wire.md §1.3: {@code error},
 * {@code error_description} = "AADSTSnnnn: text\r\nTrace ID: …\r\nCorrelation ID: …\r\nTimestamp: …",
 * {@code error_codes}, {@code timestamp}, {@code trace_id}, {@code correlation_id}, {@code error_uri}.
 * Message texts follow the public reference (https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes);
 * where the doc marks a status or text unverified, the choice below is a GUESS and says so.
 */
final class AadError {
  record Kind(int status, String error, String text) {}

  private static final Map<String, Kind> KINDS = new LinkedHashMap<>();

  static {
    KINDS.put("7000215", new Kind(401, "invalid_client", "Invalid client secret provided. Ensure the secret being"
        + " sent in the request is the client secret value, not the client secret ID, for a secret added to app"
        + " '{client}'."));
    KINDS.put("7000222", new Kind(401, "invalid_client", "The provided client secret keys for app '{client}' are"
        + " expired. Visit the Azure portal to create new keys for your app or consider using certificate"
        + " credentials for added security."));
    KINDS.put("700016", new Kind(400, "unauthorized_client", "Application with identifier '{client}' was not found"
        + " in the directory '{tenant}'. This can happen if the application has not been installed by the"
        + " administrator of the tenant or consented to by any user in the tenant. You may have sent your"
        + " authentication request to the wrong tenant."));
    KINDS.put("90002", new Kind(400, "invalid_request", "Tenant '{tenant}' not found. Check to make sure you have"
        + " the correct tenant ID and are signing into the correct cloud. Check with your subscription"
        + " administrator, this may happen if there are no active subscriptions for the tenant."));
    KINDS.put("900023", new Kind(400, "invalid_request", "Specified tenant identifier '{tenant}' is neither a valid"
        + " DNS name, nor a valid external domain."));
    KINDS.put("70011", new Kind(400, "invalid_scope", "The provided value for the input parameter 'scope' is not"
        + " valid. The scope {scope} is not valid."));
    // GUESS (doc: text unverified): wording of 1002012.
    KINDS.put("1002012", new Kind(400, "invalid_scope", "The provided value for scope {scope} is not valid. Client"
        + " credential flows must have a scope value with /.default suffixed to the resource identifier"
        + " (application ID URI)."));
    KINDS.put("500011", new Kind(400, "invalid_resource", "The resource principal named {resource} was not found"
        + " in the tenant named {tenant}. This can happen if the application has not been installed by the"
        + " administrator of the tenant or consented to by any user in the tenant. You might have sent your"
        + " authentication request to the wrong tenant."));
    KINDS.put("700027", new Kind(401, "invalid_client", "Client assertion failed signature validation. [Reason -"
        + " {reason}, Thumbprint of key used by client: '{thumbprint}']"));
    // GUESS (doc: status unverified): 401 invalid_client like the other assertion failures.
    KINDS.put("700024", new Kind(401, "invalid_client", "Client assertion is not within its valid time range."
        + " Current time: {now}, assertion valid from {nbf}, expiry time of assertion {exp}."));
    KINDS.put("700021", new Kind(401, "invalid_client", "Client assertion application identifier doesn't match"
        + " 'client_id' parameter. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials ."));
    KINDS.put("700023", new Kind(401, "invalid_client", "Client assertion audience claim does not match Realm"
        + " issuer. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials ."));
    // GUESS (doc: text unverified).
    KINDS.put("7000218", new Kind(401, "invalid_client", "The request body must contain the following parameter:"
        + " 'client_assertion' or 'client_secret'."));
    KINDS.put("50049", new Kind(400, "invalid_instance", "Unknown or invalid instance."));
    KINDS.put("900144", new Kind(400, "invalid_request", "The request body must contain the following parameter:"
        + " '{param}'."));
    KINDS.put("70003", new Kind(400, "unsupported_grant_type", "The app requested an unsupported grant type"
        + " '{grant}'."));
    KINDS.put("900561", new Kind(400, "invalid_request", "The endpoint only accepts POST, OPTIONS requests."
        + " Received a {method} request."));
    // GUESS: generic "malformed request" code, used for two credentials at once or a bad assertion type.
    KINDS.put("9002313", new Kind(400, "invalid_request", "Invalid request. Request is malformed or invalid."));
    KINDS.put("50027", new Kind(400, "invalid_request", "JWT token is invalid or malformed."));
    // GUESS: a 5xx from the token endpoint; body shape of a transient Entra failure.
    KINDS.put("90033", new Kind(503, "temporarily_unavailable", "A transient error has occurred. Please try"
        + " again."));
  }

  private static final DateTimeFormatter TS = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss'Z'");

  private AadError() {}

  static boolean known(String code) {
    return KINDS.containsKey(code);
  }

  static Set<String> knownCodes() {
    return KINDS.keySet();
  }

  static Kind kind(String code) {
    return KINDS.get(code);
  }

  /** The JSON body for {@code code}; {@code vars} fill the {name} placeholders of its text. */
  static JsonObject body(String code, String host, Map<String, String> vars) {
    Kind k = KINDS.get(code);
    String text = k.text();
    for (Map.Entry<String, String> e : vars.entrySet()) {
      text = text.replace("{" + e.getKey() + "}", e.getValue() == null ? "" : e.getValue());
    }
    String ts = ZonedDateTime.now(ZoneOffset.UTC).format(TS);
    String trace = UUID.randomUUID().toString();
    String correlation = vars.getOrDefault("correlation", UUID.randomUUID().toString());
    return new JsonObject()
        .put("error", k.error())
        .put("error_description", "AADSTS" + code + ": " + text + "\r\nTrace ID: " + trace
            + "\r\nCorrelation ID: " + correlation + "\r\nTimestamp: " + ts)
        .put("error_codes", new JsonArray().add(Long.parseLong(code)))
        .put("timestamp", ts)
        .put("trace_id", trace)
        .put("correlation_id", correlation)
        .put("error_uri", host + "/error?code=" + code);
  }
}
