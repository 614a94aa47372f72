package io.relay365.cli;

import io.relay365.receive.UsersFile;
import java.io.ByteArrayOutputStream;
import java.io.Console;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code relay365 passwd [--file F] [--stdin] USER}: creates or changes a user of smtp.auth.users-file.
 * The password is read from the terminal without echo, twice; with --stdin, from the first line of
 * standard input (for scripts: {@code printf '%s\n' "$PW" | relay365 passwd --stdin scanner}).
 * The password never appears on the command line, where ps and shell history would show it.
 */
@Command(name = "passwd", mixinStandardHelpOptions = true,
    description = "Create or change an SMTP AUTH user in the users file (salted Argon2id hash).")
public final class PasswdCommand implements Callable<Integer> {
  static final Path DEFAULT_FILE = Path.of("/etc/relay365/users");

  @Parameters(index = "0", paramLabel = "USER", description = "User name (the SMTP AUTH login)")
  String user;

  @Option(names = "--file", paramLabel = "FILE",
      description = "Users file (smtp.auth.users-file); default: ${DEFAULT-VALUE}")
  Path file = DEFAULT_FILE;

  @Option(names = "--stdin", description = "Read the password from the first line of standard input")
  boolean stdin;

  @Spec CommandSpec spec;

  /** Where --stdin reads from (a seam for tests). */
  InputStream in = System.in;
  /** The terminal, or null when there is none. */
  Console console = System.console();

  @Override
  public Integer call() throws IOException {
    PrintWriter err = spec.commandLine().getErr();
    PrintWriter out = spec.commandLine().getOut();
    if (!UsersFile.isValidName(user)) {
      err.println("passwd: user names have 1 to 256 characters, without ':', spaces or control characters");
      return 2;
    }
    char[] password;
    if (stdin) {
      password = firstLine(in);
    } else {
      if (console == null) {
        err.println("passwd: no terminal to read the password from; use --stdin in scripts");
        return 2;
      }
      password = console.readPassword("Password for %s: ", user);
      char[] again = console.readPassword("Again: ");
      if (password == null || again == null || !Arrays.equals(password, again)) {
        err.println("passwd: the passwords differ; nothing changed");
        return 1;
      }
      Arrays.fill(again, '\0');
    }
    if (password == null || password.length == 0) {
      err.println("passwd: empty password; nothing changed");
      return 1;
    }
    try {
      boolean added = UsersFile.setPassword(file, user, password);
      out.println((added ? "Added " : "Changed the password of ") + user + " in " + file);
      return 0;
    } finally {
      Arrays.fill(password, '\0');
    }
  }

  private static char[] firstLine(InputStream in) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    int c;
    while ((c = in.read()) != -1 && c != '\n') {
      b.write(c);
    }
    byte[] bytes = b.toByteArray();
    int len = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
    java.nio.CharBuffer chars = StandardCharsets.UTF_8.decode(java.nio.ByteBuffer.wrap(bytes, 0, len));
    char[] exact = new char[chars.remaining()];
    chars.get(exact);
    Arrays.fill(chars.array(), '\0');
    Arrays.fill(bytes, (byte) 0);
    return exact;
  }
}
