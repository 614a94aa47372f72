package io.relay365.receive;

import io.relay365.store.Admission;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.subethamail.smtp.MessageHandler;
import org.subethamail.smtp.RejectException;
import org.subethamail.smtp.TooMuchDataException;

/**
 * Decorates the spooling handler with the door policy of MAIL FROM, kept apart from it so that the receive
 * path itself stays unchanged: back-pressure ({@link Admission}: {@code 452 4.3.1}, RFC 3463 "mail system
 * full") and shutdown ({@code 421 4.3.2}, RFC 5321 3.8: the service is closing). It also counts the mail
 * transactions in progress (MAIL FROM to the end of DATA, RSET or disconnect), so that a shutdown can let
 * them finish before it closes the sockets.
 */
final class AdmittingHandler implements MessageHandler {
  private static final Logger log = LoggerFactory.getLogger(AdmittingHandler.class);

  static final String FULL = "4.3.1 Insufficient system storage, try again later";
  static final String CLOSING = "4.3.2 Service shutting down, try again later";

  /** Shared by every session of one listener. */
  static final class Door {
    private final Admission admission;
    private final AtomicInteger open = new AtomicInteger();
    private volatile boolean closing;

    Door(Admission admission) {
      this.admission = admission;
    }

    /** From now on MAIL FROM gets 421; transactions already past MAIL FROM may finish. */
    void close() {
      closing = true;
    }

    /** Waits until no transaction is in progress, at most {@code timeout}; true if none is left. */
    boolean awaitIdle(Duration timeout) throws InterruptedException {
      long end = System.nanoTime() + timeout.toNanos();
      while (open.get() > 0 && System.nanoTime() < end) {
        Thread.sleep(20); // a handful of polls during shutdown only
      }
      return open.get() == 0;
    }

    int inProgress() {
      return open.get();
    }
  }

  private final MessageHandler delegate;
  private final Door door;
  private boolean counted;

  AdmittingHandler(MessageHandler delegate, Door door) {
    this.delegate = delegate;
    this.door = door;
  }

  @Override
  public void from(String from) throws RejectException {
    if (door.closing) {
      throw new RejectException(421, CLOSING);
    }
    String refusal = door.admission.refusal();
    if (refusal != null) {
      log.warn("refusing new mail (452 4.3.1): {}", refusal);
      throw new RejectException(452, FULL);
    }
    door.open.incrementAndGet();
    counted = true;
    try {
      delegate.from(from);
    } catch (RejectException | RuntimeException e) {
      release();
      throw e;
    }
  }

  @Override
  public void recipient(String recipient) throws RejectException {
    delegate.recipient(recipient);
  }

  @Override
  public String data(InputStream data) throws RejectException, TooMuchDataException, IOException {
    return delegate.data(data);
  }

  @Override
  public void done() {
    try {
      delegate.done();
    } finally {
      release();
    }
  }

  private void release() {
    if (counted) {
      counted = false;
      door.open.decrementAndGet();
    }
  }
}
