package io.relay365.deliver;

import io.relay365.config.Settings;
import io.vertx.core.Vertx;

/**
 * Builds the {@link Transport} that delivery.transport names. This is the only place that knows the
 * concrete transports: the queue runner, the DSN path and the metrics see only the interface, so moving
 * from EWS to Graph or SMTP submission is one setting (microsoft-wire.md §2.9: EWS in Exchange Online
 * ends on 1 April 2027).
 */
public final class Transports {
  private Transports() {}

  /**
   * @param tokens tokens for the scope of this transport (Settings.microsoft().scope() is already the
   *               right resource for it, see SettingsLoader.defaultScope)
   */
  public static Transport create(Vertx vertx, Settings settings, TokenCache tokens) throws Exception {
    return switch (settings.delivery().transport()) {
      case EWS -> new EwsTransport(vertx, settings.ews(), tokens, settings.microsoft().caFile());
      case GRAPH -> new GraphTransport(vertx, settings.graph(), tokens, settings.microsoft().caFile());
      case SMTP_OAUTH -> new SmtpOauthTransport(vertx, settings.smtpOauth(), settings.delivery(),
          settings.smtp().hostname(), tokens, settings.microsoft().caFile());
    };
  }
}
