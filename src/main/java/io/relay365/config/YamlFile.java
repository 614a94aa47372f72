package io.relay365.config;

import io.vertx.config.ConfigRetriever;
import io.vertx.config.ConfigRetrieverOptions;
import io.vertx.config.ConfigStoreOptions;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.file.FileSystemOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/**
 * Reads the YAML file through vertx-config (a file store with the yaml format) on a short-lived
 * Vertx, and turns every failure into one line naming the file (and the line, for syntax errors).
 */
final class YamlFile {
  private YamlFile() {}

  static JsonObject read(Path file) {
    String where = file.toString();
    if (!Files.exists(file)) {
      throw new ConfigException(where, "configuration file does not exist; check the path given with --config");
    }
    if (!Files.isRegularFile(file)) {
      throw new ConfigException(where, "is not a regular file; point --config at the YAML file");
    }
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new ConfigException(where, "cannot be read by user " + System.getProperty("user.name")
          + " (" + e.getClass().getSimpleName() + "); check its permissions");
    }
    // A file of comments only makes snakeyaml return null, on which vertx-config 5.0.7 fails with a
    // NullPointerException: treat it as the empty file it is meant to be.
    if (onlyComments(text)) {
      return new JsonObject();
    }
    rejectDuplicateKeys(where, text);
    // No file cache in ./.vertx or the temp dir, and no class-path fallback for a missing file.
    Vertx vertx = Vertx.vertx(new VertxOptions()
        .setEventLoopPoolSize(1)
        .setWorkerPoolSize(1)
        .setInternalBlockingPoolSize(1)
        .setFileSystemOptions(new FileSystemOptions().setFileCachingEnabled(false).setClassPathResolvingEnabled(false)));
    try {
      ConfigRetriever retriever = ConfigRetriever.create(vertx, new ConfigRetrieverOptions()
          .setIncludeDefaultStores(false)
          .setScanPeriod(-1)
          .addStore(new ConfigStoreOptions().setType("file").setFormat("yaml")
              .setConfig(new JsonObject().put("path", file.toAbsolutePath().toString()))));
      try {
        return retriever.getConfig().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
      } finally {
        retriever.close();
      }
    } catch (java.util.concurrent.ExecutionException e) {
      throw translate(where, e.getCause());
    } catch (java.util.concurrent.TimeoutException e) {
      throw new ConfigException(where, "took more than 30 s to read; is it on a hung network file system?");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ConfigException(where, "reading was interrupted");
    } finally {
      close(vertx);
    }
  }

  /** Waits for the threads to stop, so that loading leaves nothing running behind it. */
  private static void close(Vertx vertx) {
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      // nothing was started that could hold a resource; the threads are daemons
    }
  }

  /**
   * YAML keeps the last of two equal keys and drops the first without a word (snakeyaml's default,
   * which vertx-config uses): a second "smtp:" block would silently undo allowed-networks set in the
   * first. A typo of this kind must not go unnoticed, so duplicates are refused before the real read.
   */
  private static void rejectDuplicateKeys(String where, String text) {
    org.yaml.snakeyaml.LoaderOptions options = new org.yaml.snakeyaml.LoaderOptions();
    options.setAllowDuplicateKeys(false);
    try {
      new org.yaml.snakeyaml.Yaml(new org.yaml.snakeyaml.constructor.SafeConstructor(options)).load(text);
    } catch (org.yaml.snakeyaml.constructor.DuplicateKeyException e) {
      Mark m = e.getProblemMark();
      String at = m == null ? "" : "line " + (m.getLine() + 1) + ": ";
      String key = e.getProblem() == null ? "a key" : e.getProblem().replaceFirst("^found duplicate key ", "");
      throw new ConfigException(where, at + Messages.oneLine(key) + " appears twice in the same mapping; merge the"
          + " two into one (YAML would keep only the second, silently)");
    } catch (org.yaml.snakeyaml.error.YAMLException e) {
      // syntax errors: the read below reports them with the position and a hint
    }
  }

  private static boolean onlyComments(String text) {
    for (String line : text.split("\r?\n")) {
      String t = line.strip();
      if (!t.isEmpty() && !t.startsWith("#") && !t.equals("---") && !t.equals("...")) {
        return false;
      }
    }
    return true;
  }

  private static ConfigException translate(String where, Throwable failure) {
    for (Throwable c = failure; c != null; c = c.getCause()) {
      if (c instanceof MarkedYAMLException y) {
        // Only the problem and its position: snakeyaml's own message quotes the offending line,
        // which may be the one holding the client secret.
        Mark m = y.getProblemMark() != null ? y.getProblemMark() : y.getContextMark();
        String at = m == null ? "" : "line " + (m.getLine() + 1) + ", column " + (m.getColumn() + 1) + ": ";
        String problem = y.getProblem() != null ? y.getProblem() : y.getContext();
        return new ConfigException(where, at + "not valid YAML: " + Messages.oneLine(problem) + hint(y.getContext() + " " + problem));
      }
      if (c instanceof DecodeException || c instanceof ClassCastException) {
        return new ConfigException(where, "the top level must be a mapping of sections (smtp:, microsoft:, ...),"
            + " not a list or a single value; start from conf/relay365.yaml");
      }
    }
    return new ConfigException(where, "cannot be read: " + failure.getClass().getSimpleName());
  }

  private static String hint(String problem) {
    if (problem == null) {
      return "";
    }
    if (problem.contains("end of stream")) {
      return " (is a quote left open?)";
    }
    if (problem.contains("'@'")) {
      return " (put values and keys that start with @ in quotes: \"@example.com\")";
    }
    if (problem.contains("'\\t'") || problem.contains("tab")) {
      return " (indent with spaces, not tabs)";
    }
    if (problem.contains("mapping values are not allowed")) {
      return " (check the indentation, and quote values that contain \": \")";
    }
    if (problem.contains("flow node") || problem.contains("expected the node content")) {
      return " (a value starting with [ or { must be quoted, e.g. listen: \"[::1]:2525\")";
    }
    return "";
  }
}
