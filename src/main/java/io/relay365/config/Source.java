package io.relay365.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.temporal.TemporalAccessor;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * The raw values of the known keys after the YAML file and the environment have been merged
 * (environment wins, key by key), with typed accessors that reject a value of the wrong shape.
 * Accessors return null for a key that is not set; every failure is a one-line ConfigException.
 */
final class Source {
  private final Map<String, Object> values = new LinkedHashMap<>();
  /** key -> the RELAY365_* variable that set it, so that a message can say where a bad value came from. */
  private final Map<String, String> fromEnv = new HashMap<>();

  static Source of(JsonObject yaml, Map<String, String> environment) {
    Source s = new Source();
    if (yaml != null) {
      s.flatten("", yaml);
    }
    s.overlay(environment);
    return s;
  }

  /**
   * Nested sections and dotted names are the same key: "smtp: {listen: x}" and "smtp.listen: x"
   * both set smtp.listen. Anything that is neither a known key nor a known section is refused.
   */
  private void flatten(String prefix, JsonObject object) {
    for (Map.Entry<String, Object> e : object) {
      String key = prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey();
      Object value = e.getValue();
      if (Keys.isKnown(key)) {
        if (values.containsKey(key)) {
          throw new ConfigException(key, "is set twice in the file (once as a dotted name, once inside its"
              + " section); keep one");
        }
        if (value != null) {
          values.put(key, value);
        }
      } else if (Keys.SECTIONS.contains(key)) {
        if (value instanceof JsonObject section) {
          flatten(key, section);
        } else if (value != null) {
          String example = Keys.ALL.stream().filter(k -> k.startsWith(key + ".")).findFirst().orElseThrow();
          throw new ConfigException(key, "is a section, not a value; put its settings indented below it"
              + " (did you mean " + example + "?)");
        }
      } else {
        throw new ConfigException(key, "unknown setting; did you mean " + Keys.nearest(key) + "?"
            + " (every setting is listed in conf/relay365.yaml)");
      }
    }
  }

  private void overlay(Map<String, String> environment) {
    // Sorted, so that with several bad variables the same one is reported every time.
    for (Map.Entry<String, String> e : new TreeMap<>(environment).entrySet()) {
      String name = e.getKey();
      if (!name.startsWith(Keys.ENV_PREFIX) || SettingsLoader.NOT_SETTINGS.contains(name)) {
        continue;
      }
      String key = Keys.BY_ENV.get(name);
      if (key == null) {
        String near = Keys.nearestEnv(name);
        throw new ConfigException(name, "unknown setting in the environment; did you mean "
            + Keys.envName(near) + " (" + near + ")?");
      }
      fromEnv.put(key, name);
      if (e.getValue().isEmpty()) {
        // An empty variable removes the file's value, so that e.g. a secret given in the
        // environment can replace a client-secret-file named in the file.
        values.remove(key);
      } else {
        values.put(key, e.getValue());
      }
    }
  }

  boolean isSet(String key) {
    return values.containsKey(key);
  }

  /** " (from RELAY365_X)" when the environment set the key, for messages. */
  String where(String key) {
    String env = fromEnv.get(key);
    return env == null ? "" : " (from " + env + ")";
  }

  /** The value for a message: quoted, or nothing at all for a secret. */
  String shown(String key) {
    return Keys.SECRETS.contains(key) ? "the value" : Messages.show(values.get(key));
  }

  ConfigException bad(String key, String problem) {
    return new ConfigException(key, shown(key) + where(key) + " " + problem);
  }

  /** A text value; YAML numbers, booleans and dates are refused rather than silently turned into text. */
  String string(String key) {
    Object v = values.get(key);
    if (v == null) {
      return null;
    }
    if (v instanceof String s) {
      s = s.strip();
      return s.isEmpty() ? null : s;
    }
    boolean structure = v instanceof JsonObject || v instanceof JsonArray;
    throw new ConfigException(key, "expected text, but YAML read " + kind(key, v)
        + (structure ? "; write a single value on the key's own line" : "; put the value in quotes"));
  }

  /** A whole number within [min, max]; YAML integers or digits (the environment is always text). */
  Integer integer(String key, int min, int max, String why) {
    Object v = values.get(key);
    if (v == null) {
      return null;
    }
    long n;
    if (v instanceof Integer || v instanceof Long) {
      n = ((Number) v).longValue();
    } else if (v instanceof String s && s.strip().matches("[+-]?\\d{1,18}")) {
      n = Long.parseLong(s.strip());
    } else {
      throw new ConfigException(key, kindOrValue(key, v) + where(key) + " is not a whole number; write e.g. "
          + max / 2 + " (allowed " + min + ".." + max + ")");
    }
    if (n < min || n > max) {
      throw new ConfigException(key, n + where(key) + " is out of range; use " + min + ".." + max + why);
    }
    return (int) n;
  }

  /** true/false (YAML booleans, or the words true/false/yes/no/on/off from the environment). */
  Boolean bool(String key) {
    Object v = values.get(key);
    if (v == null) {
      return null;
    }
    if (v instanceof Boolean b) {
      return b;
    }
    if (v instanceof String s) {
      switch (s.strip().toLowerCase(java.util.Locale.ROOT)) {
        case "true", "yes", "on" -> {
          return true;
        }
        case "false", "no", "off" -> {
          return false;
        }
        case "" -> {
          return null;
        }
        default -> { }
      }
    }
    throw new ConfigException(key, kindOrValue(key, v) + where(key) + " is not true or false; write true or false");
  }

  /** An absolute path: relative ones are resolved against the current directory, as Unix tools do. */
  Path path(String key) {
    String s = string(key);
    if (s == null) {
      return null;
    }
    if (s.startsWith("~")) {
      throw bad(key, "starts with ~, which only a shell expands; write the full path, e.g. /home/relay/...");
    }
    try {
      return Path.of(s).toAbsolutePath().normalize();
    } catch (InvalidPathException e) {
      throw bad(key, "is not a valid path: " + Messages.oneLine(e.getReason()));
    }
  }

  /** The raw value (Number or String) for parsers that take either, e.g. sizes and durations. */
  Object scalar(String key) {
    Object v = values.get(key);
    if (v == null || v instanceof String || v instanceof Integer || v instanceof Long) {
      return v instanceof String s && s.isBlank() ? null : v;
    }
    if (v instanceof Double || v instanceof BigDecimal || v instanceof BigInteger) {
      return v;
    }
    throw new ConfigException(key, "expected a single value, but YAML read " + kind(key, v));
  }

  /** A calendar date: YYYY-MM-DD as text, or a YAML date (unquoted 2027-03-01). */
  java.time.LocalDate date(String key) {
    Object v = values.get(key);
    if (v == null || v instanceof String s && s.isBlank()) {
      return null;
    }
    if (v instanceof java.time.Instant i) {
      return i.atOffset(java.time.ZoneOffset.UTC).toLocalDate();
    }
    if (v instanceof java.util.Date d) {
      return d.toInstant().atOffset(java.time.ZoneOffset.UTC).toLocalDate();
    }
    String s = v.toString().strip();
    try {
      return java.time.LocalDate.parse(s.length() > 10 && s.charAt(10) == 'T' ? s.substring(0, 10) : s);
    } catch (java.time.format.DateTimeParseException e) {
      throw bad(key, "is not a date; write it as YYYY-MM-DD, e.g. 2027-03-01");
    }
  }

  /** sender.map: a YAML mapping, or "addr=mailbox,@domain=mailbox" from the environment. */
  Map<String, String> map(String key) {
    Object v = values.get(key);
    if (v == null) {
      return null;
    }
    Map<String, String> m = new LinkedHashMap<>();
    if (v instanceof JsonObject o) {
      for (Map.Entry<String, Object> e : o) {
        if (!(e.getValue() instanceof String s) || s.isBlank()) {
          throw new ConfigException(key, "entry " + Messages.show(e.getKey()) + where(key)
              + " must map to a mailbox address, e.g. \"@example.com\": shared@example.com");
        }
        m.put(e.getKey().strip(), s.strip());
      }
    } else if (v instanceof String s) {
      for (String entry : s.split(",")) {
        if (entry.isBlank()) {
          continue;
        }
        int eq = entry.indexOf('=');
        if (eq < 0) {
          throw new ConfigException(key, "entry " + Messages.show(entry.strip()) + where(key)
              + " has no '='; write address=mailbox,@domain=mailbox");
        }
        m.put(entry.substring(0, eq).strip(), entry.substring(eq + 1).strip());
      }
    } else {
      throw new ConfigException(key, "expected a mapping of sender address or @domain to mailbox, but YAML read "
          + kind(key, v) + "; write one \"address: mailbox\" per line below sender.map");
    }
    return m;
  }

  /** A YAML list of text values, or one text value with items separated by commas or spaces (the environment). */
  java.util.List<String> list(String key) {
    Object v = values.get(key);
    if (v == null) {
      return null;
    }
    java.util.List<String> out = new java.util.ArrayList<>();
    if (v instanceof JsonArray a) {
      for (Object o : a) {
        if (!(o instanceof String s)) {
          throw new ConfigException(key, "has an item that is " + (o == null ? "empty" : kind(key, o))
              + "; write each item as text, e.g. - 10.1.0.0/16");
        }
        if (!s.isBlank()) {
          out.add(s.strip());
        }
      }
    } else if (v instanceof String s) {
      for (String item : s.split("[,\\s]+")) {
        if (!item.isEmpty()) {
          out.add(item);
        }
      }
    } else {
      throw new ConfigException(key, "expected a list, but YAML read " + kind(key, v)
          + "; write one \"- item\" per line below the key, or items separated by commas");
    }
    return out;
  }

  /**
   * A mapping of text keys to lists (smtp.allowed-senders): YAML "key: [a, b]" or "key: a, b", or from
   * the environment "key=a b;key2=c" (entries separated by ';', items by commas or spaces).
   */
  Map<String, java.util.List<String>> mapOfLists(String key) {
    Object v = values.get(key);
    if (v == null) {
      return null;
    }
    Map<String, java.util.List<String>> m = new LinkedHashMap<>();
    if (v instanceof JsonObject o) {
      for (Map.Entry<String, Object> e : o) {
        Object val = e.getValue();
        java.util.List<String> items = new java.util.ArrayList<>();
        if (val instanceof String s) {
          items.addAll(split(s));
        } else if (val instanceof JsonArray a) {
          for (Object item : a) {
            if (item instanceof String s) {
              items.addAll(split(s));
            }
          }
        }
        if (items.isEmpty()) {
          throw new ConfigException(key, "entry " + Messages.show(e.getKey()) + where(key)
              + " lists no sender; write e.g. \"10.1.0.0/16\": \"@example.com, printer@example.org\"");
        }
        m.put(e.getKey().strip(), items);
      }
    } else if (v instanceof String s) {
      for (String entry : s.split(";")) {
        if (entry.isBlank()) {
          continue;
        }
        int eq = entry.indexOf('=');
        if (eq < 0) {
          throw new ConfigException(key, "entry " + Messages.show(entry.strip()) + where(key)
              + " has no '='; write user:NAME=a@example.com;10.1.0.0/16=@example.com");
        }
        m.put(entry.substring(0, eq).strip(), split(entry.substring(eq + 1)));
      }
    } else {
      throw new ConfigException(key, "expected a mapping of user:NAME or network to senders, but YAML read "
          + kind(key, v) + "; write one \"key: senders\" per line below the key");
    }
    return m;
  }

  private static java.util.List<String> split(String s) {
    java.util.List<String> out = new java.util.ArrayList<>();
    for (String item : s.split("[,\\s]+")) {
      if (!item.isEmpty()) {
        out.add(item);
      }
    }
    return out;
  }

  private static String kind(String key, Object v) {
    boolean secret = Keys.SECRETS.contains(key);
    if (v instanceof JsonObject) {
      return "a section (a mapping of keys)";
    }
    if (v instanceof JsonArray) {
      return "a list";
    }
    if (v instanceof Boolean) {
      return secret ? "a true/false value" : "the true/false value " + v + " (yes, no, on and off are booleans in YAML)";
    }
    if (v instanceof Number) {
      return secret ? "a number" : "the number " + v + " (digits with a leading 0 are octal in YAML)";
    }
    if (v instanceof TemporalAccessor || v instanceof java.util.Date) {
      return "a date";
    }
    return "a " + v.getClass().getSimpleName();
  }

  private String kindOrValue(String key, Object v) {
    return v instanceof String || v instanceof Number ? shown(key) : kind(key, v);
  }
}
