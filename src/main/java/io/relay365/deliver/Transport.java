package io.relay365.deliver;

import io.vertx.core.Future;

/**
 * The one seam between the queue and Microsoft: EWS today, Graph sendMail and SMTP XOAUTH2 later.
 * An implementation never throws and never fails the future for an upstream problem: every result,
 * network errors and timeouts included, comes back as a classified {@link Outcome}.
 */
public interface Transport extends AutoCloseable {

  /** Sends one message as {@code submission.mailbox()}; must not block the calling event loop. */
  Future<Outcome> send(Submission submission);

  @Override
  void close();
}
