package io.relay365.cli;

import io.relay365.config.ConfigException;

/** Exit codes and the one-line error messages of the commands (sysexits.h numbering). */
final class Exits {
  static final int OK = 0;
  static final int FAILED = 1;
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
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String what = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    System.err.println("relay365: could not start: " + what);
    return UNAVAILABLE;
  }
}
