package io.relay365.store;

import java.time.Instant;
import java.util.List;

/**
 * What the relay knows about one spooled message besides its bytes: the SMTP envelope, where it came
 * from, and how delivery has gone so far. Stored beside the message as envelope.json (a person can read
 * it); {@code version} is the format version of that file.
 *
 * @param sender      MAIL FROM address without angle brackets; "" for the null sender {@code <>}
 * @param recipients  RCPT TO addresses, in order, without angle brackets
 * @param client      remote IP address of the SMTP client
 * @param helo        the client's EHLO/HELO name, or "" if none was given
 * @param size        bytes of message.eml (with the relay's trace headers)
 * @param nextAttempt earliest time of the next delivery attempt; null = as soon as possible
 * @param lastError   short text of the last failure (code and detail), or null
 */
public record Envelope(
    int version,
    String id,
    String sender,
    List<String> recipients,
    String client,
    String helo,
    Instant arrived,
    long size,
    int attempts,
    Instant nextAttempt,
    String lastError) {

  public static final int FORMAT_VERSION = 1;

  public Envelope {
    recipients = List.copyOf(recipients);
  }

  public boolean nullSender() {
    return sender.isEmpty();
  }

  /** The envelope after one more failed attempt. */
  public Envelope failed(String error, Instant next) {
    return new Envelope(version, id, sender, recipients, client, helo, arrived, size, attempts + 1, next, error);
  }
}
