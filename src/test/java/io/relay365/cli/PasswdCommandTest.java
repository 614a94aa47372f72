package io.relay365.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.relay365.receive.UsersFile;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class PasswdCommandTest {
  @TempDir Path dir;
  final StringWriter out = new StringWriter();
  final StringWriter err = new StringWriter();

  int run(String stdin, String... args) {
    PasswdCommand cmd = new PasswdCommand();
    cmd.in = new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8));
    cmd.console = null;
    return new CommandLine(cmd).setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true)).execute(args);
  }

  @Test
  void createsThenChangesAnEntryKeepingTheOthers() throws Exception {
    Path f = dir.resolve("etc/users");
    assertThat(run("first secret\n", "--file", f.toString(), "--stdin", "scanner")).isZero();
    assertThat(run("other\r\n", "--file", f.toString(), "--stdin", "printer@example.com")).isZero();
    String before = Files.readString(f);
    assertThat(before).doesNotContain("first secret").contains("scanner:$argon2id$v=19$m=19456,t=2,p=1$");
    assertThat(Files.getPosixFilePermissions(f)).isEqualTo(PosixFilePermissions.fromString("rw-------"));

    assertThat(run("second secret\n", "--file", f.toString(), "--stdin", "scanner")).isZero();
    assertThat(out.toString()).contains("Added scanner", "Changed the password of scanner");
    UsersFile users = new UsersFile(f);
    assertThat(users.verify("scanner", "second secret".toCharArray())).isTrue();
    assertThat(users.verify("scanner", "first secret".toCharArray())).isFalse();
    assertThat(users.verify("printer@example.com", "other".toCharArray())).isTrue(); // CRLF stripped
    assertThat(Files.readAllLines(f)).hasSize(2);
    // salted: the same password twice gives different lines
    run("other\n", "--file", f.toString(), "--stdin", "printer@example.com");
    assertThat(Files.readString(f)).doesNotContain(before.lines().filter(l -> l.startsWith("printer")).findFirst().get());
  }

  @Test
  void refusesBadNamesEmptyPasswordsAndAMissingTerminal() {
    Path f = dir.resolve("users");
    assertThat(run("pw\n", "--file", f.toString(), "--stdin", "bad:name")).isEqualTo(2);
    assertThat(run("\n", "--file", f.toString(), "--stdin", "scanner")).isEqualTo(1);
    assertThat(run("", "--file", f.toString(), "scanner")).isEqualTo(2);
    assertThat(err.toString()).contains("without ':'", "empty password", "use --stdin");
    assertThat(Files.exists(f)).isFalse();
  }
}
