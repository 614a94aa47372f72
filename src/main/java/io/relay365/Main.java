package io.relay365;

import io.relay365.cli.DemoCommand;
import io.relay365.cli.DoctorCommand;
import io.relay365.cli.PasswdCommand;
import io.relay365.cli.QueueCommand;
import io.relay365.cli.SandboxCommand;
import io.relay365.cli.SendTestCommand;
import io.relay365.cli.ServeCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of target/relay365.jar: {@code java -jar relay365.jar <command>}. */
@Command(name = "relay365", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
    description = "SMTP smarthost that delivers mail from legacy devices to Microsoft 365 with app-only OAuth2.",
    subcommands = {ServeCommand.class, DemoCommand.class, SandboxCommand.class, QueueCommand.class,
        DoctorCommand.class, SendTestCommand.class, PasswdCommand.class, CommandLine.HelpCommand.class})
public final class Main implements java.util.concurrent.Callable<Integer> {

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs a command and returns its exit code (tests call this instead of main). */
  public static int run(String... args) {
    return new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true).execute(args);
  }

  /** No command: the usage on stderr and EX_USAGE (64), so that a script calling it wrongly notices. */
  @Override
  public Integer call() {
    CommandLine.usage(this, System.err);
    return 64;
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"relay365 " + (v == null ? "(development build)" : v)};
    }
  }
}
