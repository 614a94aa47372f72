package io.relay365.config;

/**
 * A setting is missing or wrong. The message is one line that names the key, what is wrong
 * with the value and how to fix it; it never contains a secret.
 */
public class ConfigException extends RuntimeException {
  private final String key;

  public ConfigException(String key, String message) {
    super(key + ": " + message);
    this.key = key;
  }

  public String key() {
    return key;
  }
}
