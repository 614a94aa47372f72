package io.relay365;

import io.relay365.deliver.Outcome;
import io.relay365.store.Envelope;
import java.time.Duration;
import java.util.List;

/**
 * What happens to mail, as events: the one seam between the mail path (receive, deliver) and
 * everything that observes it (metrics, the status page, alerts). The mail path calls these
 * methods; it never knows who listens. Implementations must be fast and thread-safe, and must not
 * throw: they are called from SMTP session threads, event loops and worker threads.
 */
public interface MailEvents {

  /** A message was committed to the spool and the client got 250. */
  default void accepted(Envelope envelope) {}

  /** The SMTP side refused something; {@code reason} is a short stable name ("size", "relay-denied", …). */
  default void rejected(String reason) {}

  /** Exchange accepted the message; it has left the spool. */
  default void delivered(Envelope envelope, String mailbox, Duration latency) {}

  /** An attempt failed and the message waits for another one. */
  default void deferred(Envelope envelope, String mailbox, Outcome outcome) {}

  /** The message will not be delivered; it moved to the dead letters. */
  default void dead(Envelope envelope, String reason) {}

  /** An attempt ended without an answer after the request was sent: Exchange may have it twice. */
  default void possibleDuplicate(Envelope envelope) {}

  /** Every upstream answer ("NoError", "ErrorServerBusy", "HTTP 503", "AADSTS7000215", "timeout", …). */
  default void upstream(String code) {}

  /**
   * Something an administrator must fix (a configuration outcome), keyed so that the same problem
   * raised twice is one alert: e.g. "token", "mailbox:fax@contoso.com".
   */
  default void alert(String key, String text) {}

  /** The problem behind {@code key} went away (a later attempt succeeded). */
  default void alertCleared(String key) {}

  MailEvents NONE = new MailEvents() {};

  /** Delivers every event to each of {@code listeners}, in order; one that throws does not stop the others. */
  static MailEvents all(List<MailEvents> listeners) {
    List<MailEvents> ls = List.copyOf(listeners);
    return new MailEvents() {
      private void each(java.util.function.Consumer<MailEvents> c) {
        for (MailEvents l : ls) {
          try {
            c.accept(l);
          } catch (RuntimeException e) {
            org.slf4j.LoggerFactory.getLogger(MailEvents.class).warn("event listener failed: {}", e.toString());
          }
        }
      }

      @Override
      public void accepted(Envelope e) {
        each(l -> l.accepted(e));
      }

      @Override
      public void rejected(String reason) {
        each(l -> l.rejected(reason));
      }

      @Override
      public void delivered(Envelope e, String mailbox, Duration latency) {
        each(l -> l.delivered(e, mailbox, latency));
      }

      @Override
      public void deferred(Envelope e, String mailbox, Outcome o) {
        each(l -> l.deferred(e, mailbox, o));
      }

      @Override
      public void dead(Envelope e, String reason) {
        each(l -> l.dead(e, reason));
      }

      @Override
      public void possibleDuplicate(Envelope e) {
        each(l -> l.possibleDuplicate(e));
      }

      @Override
      public void upstream(String code) {
        each(l -> l.upstream(code));
      }

      @Override
      public void alert(String key, String text) {
        each(l -> l.alert(key, text));
      }

      @Override
      public void alertCleared(String key) {
        each(l -> l.alertCleared(key));
      }
    };
  }
}
