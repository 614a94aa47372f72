package io.relay365.store;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Requests from the queue tool to a running daemon, as files in spool/control/.
 *
 * <p>Why files: while the daemon runs it is the only process that changes queue/ (it holds
 * {@link SpoolLock}), because an entry may be in the middle of a delivery at any moment: deleting or
 * rewriting it from outside could race with the daemon's own rename or envelope update. So the tool never
 * touches a live queue; it drops a request here (written to a dot-file, then renamed, so the daemon never
 * reads half of one) and the daemon, which polls this directory, carries it out between its own steps and
 * removes the file. A delete of a message being delivered at that moment is applied when the attempt ends:
 * if Exchange took it, it is gone anyway; if not, it is removed instead of being retried.
 *
 * <p>Names: {@code retry.<id>}, {@code retry.all}, {@code delete.<id>}.
 */
public final class QueueControl {
  public static final String ALL = "all";

  /** One request. {@code id} is {@link #ALL} for "retry --all". */
  public record Request(Action action, String id, Path file) {}

  public enum Action { RETRY, DELETE, REQUEUE }

  private QueueControl() {}

  /** Tool side: leaves a request; returns its file (gone once the daemon has carried it out). */
  public static Path request(Spool spool, Action action, String id) throws IOException {
    String name = action.name().toLowerCase(java.util.Locale.ROOT) + "."
        + (ALL.equals(id) && action == Action.RETRY ? ALL : QueueIds.check(id));
    Path dir = spool.controlDir();
    Path tmp = dir.resolve("." + name + "." + new QueueIds().random(6));
    Files.write(tmp, new byte[0]);
    Path file = dir.resolve(name);
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    return file;
  }

  /** Daemon side: the requests waiting, oldest name order; unknown names are removed with a log line. */
  public static List<Request> pending(Spool spool) {
    List<Request> out = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(spool.controlDir())) {
      for (Path p : ds) {
        String name = p.getFileName().toString();
        if (name.startsWith(".")) {
          continue;
        }
        parse(name, p).ifPresentOrElse(out::add, () -> done(p));
      }
    } catch (IOException e) {
      org.slf4j.LoggerFactory.getLogger(QueueControl.class).warn("cannot read {}: {}", spool.controlDir(), e.toString());
    }
    out.sort(java.util.Comparator.comparing(r -> r.file().getFileName().toString()));
    return out;
  }

  static Optional<Request> parse(String name, Path file) {
    int dot = name.indexOf('.');
    if (dot < 0) {
      return Optional.empty();
    }
    String verb = name.substring(0, dot);
    String id = name.substring(dot + 1);
    if (verb.equals("retry") && id.equals(ALL)) {
      return Optional.of(new Request(Action.RETRY, ALL, file));
    }
    if (!QueueIds.valid(id)) {
      return Optional.empty();
    }
    return switch (verb) {
      case "retry" -> Optional.of(new Request(Action.RETRY, id, file));
      case "delete" -> Optional.of(new Request(Action.DELETE, id, file));
      case "requeue" -> Optional.of(new Request(Action.REQUEUE, id, file));
      default -> Optional.empty();
    };
  }

  /** Daemon side: the request was carried out. */
  public static void done(Path file) {
    try {
      Files.deleteIfExists(file);
    } catch (NoSuchFileException ignored) {
      // already gone
    } catch (IOException e) {
      org.slf4j.LoggerFactory.getLogger(QueueControl.class).warn("cannot remove {}: {}", file, e.toString());
    }
  }

  static String text(Path p) throws IOException {
    return Files.readString(p, StandardCharsets.UTF_8);
  }
}
