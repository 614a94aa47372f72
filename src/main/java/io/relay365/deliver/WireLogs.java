package io.relay365.deliver;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import org.slf4j.LoggerFactory;

/**
 * Apache HttpClient (under ews-java-api) logs every request header at DEBUG on "org.apache.http.headers"
 * and the raw bytes on "org.apache.http.wire": that is {@code Authorization: Bearer …} and the whole
 * message (observed in this project's tests). No log may carry a bearer token, so these two loggers are
 * capped at INFO whatever the logging configuration says; the rest of org.apache.http is left alone.
 */
final class WireLogs {
  private WireLogs() {}

  static void capSecretBearingLoggers() {
    if (LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx) {
      for (String name : new String[] {"org.apache.http.headers", "org.apache.http.wire"}) {
        Logger l = ctx.getLogger(name);
        if (l.getLevel() == null || !l.getLevel().isGreaterOrEqual(Level.INFO)) {
          l.setLevel(Level.INFO);
        }
      }
    }
  }
}
