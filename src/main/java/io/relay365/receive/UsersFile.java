package io.relay365.receive;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The SMTP AUTH users (smtp.auth.users-file): one {@code name:$argon2id$...} line per user (see
 * {@link PasswordHash}); empty lines and lines starting with '#' are ignored. The file is read again
 * when its modification time or size changes, so {@code relay365 passwd} takes effect without a
 * restart. A malformed line is skipped with a warning naming its line number (never its content).
 */
public final class UsersFile {
  private static final Logger log = LoggerFactory.getLogger(UsersFile.class);

  private final Path file;
  private Map<String, String> users = Map.of();
  private FileTime loadedTime;
  private long loadedSize = -1;

  public UsersFile(Path file) {
    this.file = file;
  }

  /** Whether the password is right for the user; unknown users cost the same time as known ones. */
  public boolean verify(String user, char[] password) {
    String phc = current().get(user);
    if (phc == null) {
      PasswordHash.burn(password);
      return false;
    }
    return PasswordHash.verify(password, phc);
  }

  private synchronized Map<String, String> current() {
    try {
      FileTime t = Files.getLastModifiedTime(file);
      long size = Files.size(file);
      if (!t.equals(loadedTime) || size != loadedSize) {
        users = parse(Files.readAllLines(file, StandardCharsets.UTF_8), file);
        loadedTime = t;
        loadedSize = size;
      }
    } catch (IOException e) {
      log.warn("Cannot read the users file {}: {}; keeping the {} users read before", file, e.toString(),
          users.size());
    }
    return users;
  }

  static Map<String, String> parse(List<String> lines, Path file) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      int colon = line.indexOf(':');
      if (colon <= 0 || !PasswordHash.isWellFormed(line.substring(colon + 1))) {
        log.warn("{} line {}: not \"name:$argon2id$...\"; skipped (recreate it with relay365 passwd)", file, i + 1);
        continue;
      }
      m.put(line.substring(0, colon), line.substring(colon + 1));
    }
    return m;
  }

  /** A user name: 1..256 characters, no ':' (the separator), no spaces or control characters. */
  public static boolean isValidName(String user) {
    if (user == null || user.isEmpty() || user.length() > 256 || user.startsWith("#")) {
      return false;
    }
    return user.codePoints().noneMatch(c -> c == ':' || Character.isWhitespace(c) || Character.isISOControl(c));
  }

  /**
   * Sets a user's password: replaces the user's line or appends one, keeping every other line as it
   * was. Written to a temporary file in the same directory (mode 0600), then renamed over the file,
   * so the relay never reads half a file.
   *
   * @return true if the user was new
   */
  public static boolean setPassword(Path file, String user, char[] password) throws IOException {
    if (!isValidName(user)) {
      throw new IllegalArgumentException("user names have 1 to 256 characters, without ':', spaces or"
          + " control characters, and do not start with '#'");
    }
    if (password.length == 0) {
      throw new IllegalArgumentException("the password is empty");
    }
    List<String> lines = Files.exists(file) ? Files.readAllLines(file, StandardCharsets.UTF_8) : new ArrayList<>();
    String entry = user + ":" + PasswordHash.hash(password);
    boolean added = true;
    List<String> out = new ArrayList<>(lines.size() + 1);
    for (String line : lines) {
      if (line.startsWith(user + ":")) {
        if (added) {
          out.add(entry);
        }
        added = false;
      } else {
        out.add(line);
      }
    }
    if (added) {
      out.add(entry);
    }
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, ".users", ".tmp");
    try {
      try {
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
      } catch (UnsupportedOperationException e) {
        // not a POSIX file system: keep the platform's default
      }
      Files.write(tmp, out, StandardCharsets.UTF_8);
      try {
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
    return added;
  }
}
