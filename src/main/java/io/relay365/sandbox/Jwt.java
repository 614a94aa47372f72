package io.relay365.sandbox;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** A compact JWS (RFC 7515) split into its parts; only RS256 (RFC 7518 3.3) is produced or verified. */
record Jwt(JsonObject header, JsonObject claims, String signingInput, byte[] signature) {

  /** Thrown for anything that is not a three-part base64url JWS with JSON header and payload. */
  static final class MalformedJwtException extends Exception {
    MalformedJwtException(String message) {
      super(message);
    }
  }

  static Jwt parse(String compact) throws MalformedJwtException {
    if (compact == null) {
      throw new MalformedJwtException("no token");
    }
    String[] parts = compact.split("\\.", -1);
    if (parts.length != 3 || parts[0].isEmpty() || parts[1].isEmpty() || parts[2].isEmpty()) {
      throw new MalformedJwtException("not a compact JWS");
    }
    try {
      Base64.Decoder d = Base64.getUrlDecoder();
      JsonObject header = new JsonObject(new String(d.decode(parts[0]), StandardCharsets.UTF_8));
      JsonObject claims = new JsonObject(new String(d.decode(parts[1]), StandardCharsets.UTF_8));
      return new Jwt(header, claims, parts[0] + "." + parts[1], d.decode(parts[2]));
    } catch (IllegalArgumentException | DecodeException | ClassCastException e) {
      throw new MalformedJwtException("undecodable JWS part");
    }
  }

  static String sign(JsonObject header, JsonObject claims, PrivateKey key) throws GeneralSecurityException {
    Base64.Encoder e = Base64.getUrlEncoder().withoutPadding();
    String input = e.encodeToString(header.encode().getBytes(StandardCharsets.UTF_8)) + "."
        + e.encodeToString(claims.encode().getBytes(StandardCharsets.UTF_8));
    Signature s = Signature.getInstance("SHA256withRSA");
    s.initSign(key);
    s.update(input.getBytes(StandardCharsets.US_ASCII));
    return input + "." + e.encodeToString(s.sign());
  }

  boolean verifiesWith(PublicKey key) {
    if (!"RS256".equals(header.getValue("alg"))) {
      return false; // never "none", never an algorithm the key was not meant for
    }
    // The same token comes with every request for an hour; the RSA check of one exact string with one key
    // always gives the same answer, so a token that verified once is remembered (by its whole text, never
    // a hash of it). Expiry, audience and tenant are still checked on every request by the callers.
    Verified seen = new Verified(key, signingInput, Base64.getUrlEncoder().encodeToString(signature));
    if (VERIFIED.containsKey(seen)) {
      return true;
    }
    try {
      Signature s = Signature.getInstance("SHA256withRSA");
      s.initVerify(key);
      s.update(signingInput.getBytes(StandardCharsets.US_ASCII));
      if (!s.verify(signature)) {
        return false;
      }
    } catch (GeneralSecurityException e) {
      return false;
    }
    if (VERIFIED.size() >= VERIFIED_MAX) {
      VERIFIED.clear(); // bounded: a test that mints thousands of tokens costs only re-verification
    }
    VERIFIED.put(seen, Boolean.TRUE);
    return true;
  }

  private record Verified(PublicKey key, String signingInput, String signature) {}

  private static final int VERIFIED_MAX = 1024;
  private static final Map<Verified, Boolean> VERIFIED = new ConcurrentHashMap<>();

  /** A numeric date claim (RFC 7519 2), or null if absent or not a number. */
  Long numericDate(String name) {
    Object v = claims.getValue(name);
    return v instanceof Number n ? n.longValue() : null;
  }

  String string(String name) {
    Object v = claims.getValue(name);
    return v instanceof String s ? s : null;
  }
}
