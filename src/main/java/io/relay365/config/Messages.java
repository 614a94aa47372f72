package io.relay365.config;

/** Helpers that keep every ConfigException message on one line and bounded. */
final class Messages {
  private Messages() {}

  /** A value as shown in a message: quoted, control characters escaped, long values cut. */
  static String show(Object value) {
    String s = String.valueOf(value);
    if (s.length() > 80) {
      s = s.substring(0, 77) + "...";
    }
    return "\"" + oneLine(s) + "\"";
  }

  static String oneLine(String s) {
    if (s == null) {
      return "";
    }
    StringBuilder b = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\n') {
        b.append("\\n");
      } else if (c == '\r') {
        b.append("\\r");
      } else if (c == '\t') {
        b.append("\\t");
      } else if (Character.isISOControl(c)) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }
}
