package io.relay365.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The sandbox remembers tokens that verified; that must never let a forged or foreign token through. */
class JwtTest {
  private static KeyPair issuer;
  private static KeyPair other;

  @BeforeAll
  static void keys() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
    g.initialize(2048);
    issuer = g.generateKeyPair();
    other = g.generateKeyPair();
  }

  private static String token(KeyPair k, String sub) throws Exception {
    return Jwt.sign(new JsonObject().put("alg", "RS256").put("typ", "JWT"),
        new JsonObject().put("sub", sub).put("exp", 4102444800L), k.getPrivate());
  }

  @Test
  void aTokenThatVerifiedOnceStillVerifies() throws Exception {
    String t = token(issuer, "a");
    assertThat(Jwt.parse(t).verifiesWith(issuer.getPublic())).isTrue();
    assertThat(Jwt.parse(t).verifiesWith(issuer.getPublic())).isTrue();
  }

  @Test
  void aRememberedTokenDoesNotVerifyWithAnotherKey() throws Exception {
    String t = token(issuer, "b");
    assertThat(Jwt.parse(t).verifiesWith(issuer.getPublic())).isTrue();
    assertThat(Jwt.parse(t).verifiesWith(other.getPublic())).isFalse();
  }

  @Test
  void aRememberedPayloadWithAnotherSignatureIsRefused() throws Exception {
    String good = token(issuer, "c");
    assertThat(Jwt.parse(good).verifiesWith(issuer.getPublic())).isTrue();
    String forged = good.substring(0, good.lastIndexOf('.') + 1) + token(other, "c").substring(
        token(other, "c").lastIndexOf('.') + 1);
    assertThat(Jwt.parse(forged).verifiesWith(issuer.getPublic())).isFalse();
    char last = good.charAt(good.length() - 2);
    String flipped = good.substring(0, good.length() - 2) + (last == 'A' ? 'B' : 'A') + good.charAt(good.length() - 1);
    assertThat(Jwt.parse(flipped).verifiesWith(issuer.getPublic())).isFalse();
  }

  @Test
  void anotherPayloadUnderARememberedSignatureIsRefused() throws Exception {
    String good = token(issuer, "d");
    assertThat(Jwt.parse(good).verifiesWith(issuer.getPublic())).isTrue();
    String other = token(issuer, "e");
    String spliced = other.substring(0, other.lastIndexOf('.')) + good.substring(good.lastIndexOf('.'));
    assertThat(Jwt.parse(spliced).verifiesWith(issuer.getPublic())).isFalse();
  }

  @Test
  void noneIsNeverAccepted() throws Exception {
    String good = token(issuer, "f");
    assertThat(Jwt.parse(good).verifiesWith(issuer.getPublic())).isTrue();
    String body = good.substring(good.indexOf('.') + 1);
    String none = java.util.Base64.getUrlEncoder().withoutPadding()
        .encodeToString("{\"alg\":\"none\",\"typ\":\"JWT\"}".getBytes()) + "." + body;
    assertThat(Jwt.parse(none).verifiesWith(issuer.getPublic())).isFalse();
  }
}
