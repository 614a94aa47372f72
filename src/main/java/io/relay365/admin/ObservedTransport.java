package io.relay365.admin;

import io.relay365.MailEvents;
import io.relay365.deliver.Outcome;
import io.relay365.deliver.Submission;
import io.relay365.deliver.Transport;
import io.vertx.core.Future;
import java.time.Clock;
import java.time.Duration;

/**
 * Reports each transport result as {@link MailEvents}: every upstream answer, delivered or deferred,
 * and the alert state. A configuration outcome (microsoft-wire.md §2.7: nothing but an administrator
 * can fix it) raises an alert keyed by its scope; the next success clears it.
 *
 * <p>Interim: QueueRunner does not call MailEvents yet. Once it reports delivered/deferred/dead
 * itself, {@code lifecycle} is turned off in Relay and this keeps only upstream() and the alerts.
 */
public final class ObservedTransport implements Transport {
  private final Transport delegate;
  private final MailEvents events;
  private final Clock clock;
  private final boolean lifecycle;

  public ObservedTransport(Transport delegate, MailEvents events, Clock clock, boolean lifecycle) {
    this.delegate = delegate;
    this.events = events;
    this.clock = clock;
    this.lifecycle = lifecycle;
  }

  @Override
  public Future<Outcome> send(Submission s) {
    return delegate.send(s).onSuccess(o -> report(s, o));
  }

  private void report(Submission s, Outcome o) {
    events.upstream(o.code());
    if (o.isDelivered()) {
      events.alertCleared(ALERT_TOKEN);
      events.alertCleared(ALERT_TRANSPORT);
      events.alertCleared(mailboxKey(s.mailbox()));
      if (lifecycle) {
        Duration latency = Duration.between(s.envelope().arrived(), clock.instant());
        events.delivered(s.envelope(), s.mailbox(), latency.isNegative() ? Duration.ZERO : latency);
      }
      return;
    }
    if (o.kind() == Outcome.Kind.CONFIGURATION) {
      events.alert(alertKey(s.mailbox(), o), o.code() + ": " + o.detail());
    }
    if (lifecycle) {
      events.deferred(s.envelope(), s.mailbox(), o);
    }
  }

  static final String ALERT_TOKEN = "token";
  static final String ALERT_TRANSPORT = "transport";

  /**
   * Token and tenant-wide problems (AADSTS, 401, EWS disabled) affect every mailbox: one alert. A
   * problem with one mailbox (no such mailbox, SendAs, policy) is keyed by that mailbox.
   */
  static String alertKey(String mailbox, Outcome o) {
    String c = o.code() == null ? "" : o.code();
    if (c.startsWith("AADSTS") || c.equals("tls") || c.startsWith("invalid_") || c.equals("unauthorized_client")) {
      return ALERT_TOKEN;
    }
    if (c.startsWith("Error") && !c.equals("ErrorAccessDenied")) {
      return mailboxKey(mailbox);
    }
    return ALERT_TRANSPORT;
  }

  static String mailboxKey(String mailbox) {
    return "mailbox:" + mailbox;
  }

  @Override
  public void close() {
    delegate.close();
  }
}
