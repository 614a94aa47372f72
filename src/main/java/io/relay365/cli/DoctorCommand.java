package io.relay365.cli;

import io.relay365.config.ConfigException;
import io.relay365.config.Settings;
import io.relay365.config.SettingsLoader;
import io.relay365.doctor.Doctor;
import io.relay365.doctor.Report;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code relay365 doctor}: checks the configuration and the Microsoft side, and says which step fixes what. */
@Command(name = "doctor", mixinStandardHelpOptions = true,
    description = "Check the configuration, the token, its permissions, access to the service of delivery.transport "
        + "(EWS, Microsoft Graph or SMTP submission) and each sending mailbox, "
        + "and explain every failure with the README step that fixes it. Exit 0 only if mail can be delivered.")
public final class DoctorCommand implements Callable<Integer> {

  @Option(names = {"-c", "--config"}, paramLabel = "FILE",
      description = "YAML configuration file (default: none; RELAY365_* environment variables only).")
  Path config;

  @Option(names = "--mailbox", paramLabel = "ADDR",
      description = "A mailbox the devices send as; repeatable (default: the mailboxes named in sender.*).")
  List<String> mailboxes = new ArrayList<>();

  @Option(names = "--json", description = "Print the report as JSON for scripts.")
  boolean json;

  Map<String, String> environment = System.getenv();
  PrintStream out = System.out;

  @Override
  public Integer call() {
    Settings settings;
    try {
      settings = SettingsLoader.load(config, environment);
    } catch (ConfigException e) {
      if (json) {
        out.println(new JsonObject().put("ok", false).put("checks", new JsonArray().add(new JsonObject()
            .put("id", "config").put("title", "configuration").put("status", "fail").put("summary", e.getMessage())
            .put("fix", "correct the setting named above in " + (config == null ? "the environment" : config))))
            .encodePrettily());
      } else {
        out.println("FAIL  configuration  " + e.getMessage());
      }
      return Exits.CONFIG;
    }
    Report report = new Doctor(settings, mailboxes, Clock.systemUTC()).run();
    out.print(json ? report.toJson().encodePrettily() + "\n" : report.toText());
    out.flush();
    return report.ok() ? Exits.OK : Exits.FAILED;
  }
}
