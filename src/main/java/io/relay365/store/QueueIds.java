package io.relay365.store;

import java.security.SecureRandom;
import java.util.regex.Pattern;

/**
 * Queue ids: 16 characters, 9 of milliseconds since the epoch in base32 (enough until the year 3084)
 * followed by 7 random ones (35 bits). The alphabet is Crockford's lower-case base32, whose characters
 * are in ASCII order, so ids sort by creation time (to the millisecond) as plain strings and as file
 * names; no vowels but 'e' and no '/', '.', or upper case, so an id is safe on every filesystem and
 * never looks like a temp or hidden file. Uniqueness across restarts and sessions comes from the random
 * part; the spool also refuses to reuse a name that exists.
 */
final class QueueIds {
  static final String ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
  static final int LENGTH = 16;
  private static final int TIME_CHARS = 9;
  /** What the spool accepts as an entry name: our own ids, plus a little slack for hand-made ones. */
  static final Pattern VALID = Pattern.compile("[0-9A-Za-z][0-9A-Za-z_-]{0,63}");

  private final SecureRandom random = new SecureRandom();

  String next() {
    return next(System.currentTimeMillis());
  }

  String next(long millis) {
    char[] id = new char[LENGTH];
    long t = millis;
    for (int i = TIME_CHARS - 1; i >= 0; i--) {
      id[i] = ALPHABET.charAt((int) (t & 31));
      t >>>= 5;
    }
    // one call to the (synchronized, syscall-backed) SecureRandom per id, not one per character
    byte[] r = new byte[LENGTH - TIME_CHARS];
    random.nextBytes(r);
    for (int i = TIME_CHARS; i < LENGTH; i++) {
      id[i] = ALPHABET.charAt(r[i - TIME_CHARS] & 31);
    }
    return new String(id);
  }

  /** Random suffix in the same alphabet (Message-ID local parts, unique temp names). */
  String random(int length) {
    char[] s = new char[length];
    byte[] r = new byte[length];
    random.nextBytes(r);
    for (int i = 0; i < length; i++) {
      s[i] = ALPHABET.charAt(r[i] & 31);
    }
    return new String(s);
  }

  static boolean valid(String id) {
    return id != null && VALID.matcher(id).matches();
  }

  static String check(String id) {
    if (!valid(id)) {
      throw new IllegalArgumentException("not a queue id: " + (id == null ? "null" : "'" + id + "'"));
    }
    return id;
  }
}
