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
    // SIGTERM (systemctl stop) and SIGINT: stop cleanly and exit 0. With only a shutdown hook the JVM
    // would already be exiting with status 143 (128 + SIGTERM), which systemd logs as a failure; a signal
    // handler instead lets main() stop the relay and return normally. If the JVM refuses the handler
    // (e.g. -Xrs), the shutdown hook below still stops cleanly and then halts with 0.
    CountDownLatch signalled = new CountDownLatch(1);
    boolean handled = handle("TERM", signalled) & handle("INT", signalled);
    Thread hook = new Thread(() -> {
      stop(relay, vertx);
      if (!handled) {
        Runtime.getRuntime().halt(0);
      }
    }, "relay365-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    signalled.await();
    log.info("stopping (signal received)");
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException alreadyExiting) {
      return 0;
    }
    stop(relay, vertx);
    return 0;
  }

  private static void stop(Relay relay, Vertx vertx) {
    try {
      relay.stop().await(90, TimeUnit.SECONDS);
      vertx.close().await(10, TimeUnit.SECONDS);
      log.info("relay365 stopped");
    } catch (Exception e) {
      log.warn("stop: {}", e.toString());
    }
  }

  /** Routes a signal to the latch; false if this JVM does not allow it. */
  @SuppressWarnings("restriction")
  private static boolean handle(String name, CountDownLatch latch) {
    try {
      sun.misc.Signal.handle(new sun.misc.Signal(name), sig -> latch.countDown());
      return true;
    } catch (IllegalArgumentException | UnsupportedOperationException | LinkageError e) {
      log.debug("cannot handle SIG{}: {}", name, e.toString());
      return false;
    }
  }
}
