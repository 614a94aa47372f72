package io.relay365.cli;

import io.relay365.config.ConfigException;

/** Exit codes and the one-line error messages of the commands (sysexits.h numbering). */
final class Exits {
  static final int OK = 0;
  static final int FAILED = 1;
  /** EX_USAGE: an option has a value the command does not know. */
  static final int USAGE = 64;
  /** EX_CONFIG: a setting is missing or wrong. */
  static final int CONFIG = 78;
  /** EX_UNAVAILABLE: could not start (port in use, spool not writable, …). */
  static final int UNAVAILABLE = 69;

  private Exits() {}

  static int config(ConfigException e) {
    System.err.println("relay365: configuration error: " + e.getMessage());
    return CONFIG;
  }

  static int startup(Throwable e) {
    System.err.println("relay365: could not start: " + explain(e));
    return UNAVAILABLE;
  }

  /**
   * The first message in the cause chain that says something: our own start-up code wraps low-level
   * errors with the setting and the fix ("Spool directory … is not usable …"), and that outer text
   * is what a person needs; wrappers that only repeat their cause are skipped.
   */
  static String explain(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      boolean wrapper = t instanceof java.util.concurrent.CompletionException
          || t instanceof java.util.concurrent.ExecutionException
          || t.getMessage() == null
          || (t.getCause() != null && t.getMessage().equals(t.getCause().toString()));
      if (!wrapper) {
        return t.getMessage();
      }
      if (t.getCause() == null) {
        return t.getClass().getSimpleName();
      }
    }
    return e.toString();
  }
}
