package io.relay365.admin;

import io.relay365.MailEvents;
import io.relay365.store.Envelope;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Mail-log lines (logger "relay365.mail", its own appender: see logback.xml) for the events the mail
 * path does not log itself. "accepted" is written by the SMTP handler and "delivered"/"deferred" by
 * the queue runner, each with the queue id; this listener adds "rejected", "dead", "possible-duplicate"
 * and the alert lines, in the same key=value form. When the runner and listener move their own lines
 * here, this becomes the only writer of the mail log.
 */
public final class MailLog implements MailEvents {
  static final Logger MAIL = LoggerFactory.getLogger("relay365.mail");

  @Override
  public void rejected(String reason) {
    MAIL.info("rejected reason={}", reason);
  }

  @Override
  public void dead(Envelope e, String reason) {
    MAIL.info("dead id={} from={} rcpt={} attempts={} reason={}", e.id(), StatusBoard.from(e),
        String.join(",", e.recipients()), e.attempts(), reason);
  }

  @Override
  public void possibleDuplicate(Envelope e) {
    MAIL.info("possible-duplicate id={} from={} (no answer after the request was sent; Exchange may send it twice)",
        e.id(), StatusBoard.from(e));
  }

  @Override
  public void alert(String key, String text) {
    MAIL.warn("alert key={} {}", key, text);
  }

  @Override
  public void alertCleared(String key) {
    MAIL.info("alert-cleared key={}", key);
  }
}
