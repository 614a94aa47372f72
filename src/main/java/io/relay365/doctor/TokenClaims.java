package io.relay365.doctor;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * The claims of an access token, read without checking its signature: the doctor only wants to see
 * what Entra ID put in it (audience, roles, tenant). Nothing here is trusted for authorisation, and
 * the token itself is never kept or printed.
 */
record TokenClaims(String audience, List<String> roles, String tenant, String appId, Instant expires) {

  static TokenClaims decode(String jwt) {
    String[] parts = jwt.split("\\.");
    if (parts.length < 2) {
      throw new IllegalArgumentException("not a JWT (expected header.payload.signature)");
    }
    JsonObject c = new JsonObject(new String(Base64.getUrlDecoder().decode(pad(parts[1])), StandardCharsets.UTF_8));
    Object aud = c.getValue("aud");
    String audience = aud instanceof JsonArray a ? (a.isEmpty() ? null : String.valueOf(a.getValue(0)))
        : aud == null ? null : aud.toString();
    List<String> roles = new ArrayList<>();
    Object r = c.getValue("roles");
    if (r instanceof JsonArray a) {
      a.forEach(x -> roles.add(String.valueOf(x)));
    }
    Long exp = c.getLong("exp");
    String app = c.getString("appid", c.getString("azp"));
    return new TokenClaims(audience, List.copyOf(roles), c.getString("tid"), app,
        exp == null ? null : Instant.ofEpochSecond(exp));
  }

  private static String pad(String s) {
    // base64url without padding (RFC 7515 §2); strip any padding given, the decoder wants none or exact
    return s.replace("=", "");
  }
}
