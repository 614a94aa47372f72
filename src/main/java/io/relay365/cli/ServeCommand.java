package io.relay365.cli;

import io.relay365.Relay;
import io.relay365.config.ConfigException;
import io.relay365.config.Settings;
import io.relay365.config.SettingsLoader;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code relay365 serve}: runs the relay in the foreground until SIGTERM/SIGINT (systemd's stop). */
@Command(name = "serve", mixinStandardHelpOptions = true,
    description = "Run the relay: SMTP listener, spool and delivery to Microsoft 365.")
public final class ServeCommand implements java.util.concurrent.Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(ServeCommand.class);

  @Option(names = {"-c", "--config"}, paramLabel = "FILE",
      description = "YAML configuration file (default: none; RELAY365_* environment variables only).")
  Path config;

  @Override
  public Integer call() throws Exception {
    Settings settings;
    try {
      settings = SettingsLoader.load(config, System.getenv());
    } catch (ConfigException e) {
      return Exits.config(e);
    }
    log.info("relay365 starting with configuration:\n{}", SettingsLoader.describe(settings));
    Vertx vertx = Vertx.vertx();
    Relay relay;
    try {
      relay = Relay.start(vertx, settings).await(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      vertx.close();
      return Exits.startup(e);
    }
    log.info("relay365 ready: SMTP on {}:{}, spool {}", settings.smtp().listenHost(), relay.smtpPort(),
        settings.spool().dir());
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      log.info("stopping (signal received)");
      try {
        relay.stop().await(60, TimeUnit.SECONDS);
        vertx.close().await(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        log.warn("stop: {}", e.toString());
      }
      stopped.countDown();
    }, "relay365-shutdown"));
    stopped.await();
    return 0;
  }
}
