package io.relay365.receive;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;

/**
 * Salted Argon2id password hashes (RFC 9106) in the PHC string format that libsodium, PHP and the
 * argon2 command line use: {@code $argon2id$v=19$m=19456,t=2,p=1$SALT$HASH} (unpadded base64).
 * The parameters are OWASP's first recommendation (19 MiB, 2 passes, 1 lane): about 50 ms here, and
 * bounded memory when several clients authenticate at once.
 */
final class PasswordHash {
  static final int MEMORY_KIB = 19 * 1024;
  static final int ITERATIONS = 2;
  static final int PARALLELISM = 1;
  private static final int SALT_BYTES = 16;
  private static final int HASH_BYTES = 32;
  private static final Pattern PHC = Pattern.compile(
      "\\$argon2id\\$v=19\\$m=(\\d{1,7}),t=(\\d{1,3}),p=(\\d{1,2})\\$([A-Za-z0-9+/]{11,64})\\$([A-Za-z0-9+/]{16,128})");
  private static final Base64.Encoder B64 = Base64.getEncoder().withoutPadding();
  private static final SecureRandom RANDOM = new SecureRandom();

  private PasswordHash() {}

  static String hash(char[] password) {
    byte[] salt = new byte[SALT_BYTES];
    RANDOM.nextBytes(salt);
    byte[] h = argon2(password, salt, MEMORY_KIB, ITERATIONS, PARALLELISM, HASH_BYTES);
    return "$argon2id$v=19$m=" + MEMORY_KIB + ",t=" + ITERATIONS + ",p=" + PARALLELISM + "$"
        + B64.encodeToString(salt) + "$" + B64.encodeToString(h);
  }

  static boolean isWellFormed(String phc) {
    return PHC.matcher(phc).matches();
  }

  /** Constant-time comparison of the recomputed hash; false for a malformed entry. */
  static boolean verify(char[] password, String phc) {
    Matcher m = PHC.matcher(phc);
    if (!m.matches()) {
      return false;
    }
    int mem = Integer.parseInt(m.group(1));
    int t = Integer.parseInt(m.group(2));
    int p = Integer.parseInt(m.group(3));
    if (mem < 8 * p || mem > 1024 * 1024 || t < 1 || p < 1) {
      return false; // refuse absurd parameters rather than let a users file exhaust memory
    }
    byte[] salt = Base64.getDecoder().decode(m.group(4));
    byte[] expected = Base64.getDecoder().decode(m.group(5));
    byte[] actual = argon2(password, salt, mem, t, p, expected.length);
    return MessageDigest.isEqual(actual, expected);
  }

  /** Spends the time of one verification, so that an unknown user cannot be told from a wrong password. */
  static void burn(char[] password) {
    argon2(password, new byte[SALT_BYTES], MEMORY_KIB, ITERATIONS, PARALLELISM, HASH_BYTES);
  }

  private static byte[] argon2(char[] password, byte[] salt, int memKiB, int iterations, int lanes, int len) {
    Argon2Parameters params = new Argon2Parameters.Builder(Argon2Parameters.ARGON2_id)
        .withVersion(Argon2Parameters.ARGON2_VERSION_13)
        .withMemoryAsKB(memKiB).withIterations(iterations).withParallelism(lanes).withSalt(salt).build();
    Argon2BytesGenerator g = new Argon2BytesGenerator();
    g.init(params);
    byte[] out = new byte[len];
    byte[] pw = new String(password).getBytes(StandardCharsets.UTF_8);
    g.generateBytes(pw, out);
    java.util.Arrays.fill(pw, (byte) 0);
    return out;
  }
}
