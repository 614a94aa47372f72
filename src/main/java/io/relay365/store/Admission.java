package io.relay365.store;

import java.io.IOException;

/**
 * Whether the relay may take one more message now (back-pressure). Consulted at MAIL FROM, so that a
 * refusal costs the client nothing and it keeps the message: the answer is {@code 452 4.3.1} (RFC 3463
 * "mail system full"; RFC 5321 4.5.3.1.10 allows 452 for "insufficient system storage"). Mail already
 * accepted is never dropped: this only closes the door to new mail.
 */
public interface Admission {

  /** Null to accept, or a short reason for the log (the SMTP reply text is fixed). Must be fast. */
  String refusal();

  Admission ALWAYS = () -> null;

  /**
   * spool.max-messages and spool.min-free-disk: refuses when the queue holds {@code maxMessages} or more,
   * or the spool's filesystem has less than {@code minFreeDisk} bytes free (0 = no disk check).
   */
  static Admission of(Spool spool, int maxMessages, long minFreeDisk) {
    return () -> {
      int n = spool.size();
      if (n >= maxMessages) {
        return "spool holds " + n + " messages (spool.max-messages " + maxMessages + ")";
      }
      if (minFreeDisk > 0) {
        try {
          long free = spool.usableSpace();
          if (free < minFreeDisk) {
            return "spool disk has " + free + " bytes free (spool.min-free-disk " + minFreeDisk + ")";
          }
        } catch (IOException e) {
          return "cannot tell the spool disk's free space: " + e.getMessage();
        }
      }
      return null;
    };
  }
}
