package io.relay365.store;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;

/**
 * envelope.json: the Envelope as pretty JSON a person can read with cat, instants as ISO-8601 strings,
 * "version" first so that a later format can be told apart.
 */
final class EnvelopeJson {
  private EnvelopeJson() {}

  static byte[] encode(Envelope e) {
    JsonObject o = new JsonObject()
        .put("version", e.version())
        .put("id", e.id())
        .put("sender", e.sender())
        .put("recipients", new JsonArray(new ArrayList<Object>(e.recipients())))
        .put("client", e.client())
        .put("helo", e.helo())
        .put("arrived", e.arrived().toString())
        .put("size", e.size())
        .put("attempts", e.attempts())
        .put("nextAttempt", e.nextAttempt() == null ? null : e.nextAttempt().toString())
        .put("lastError", e.lastError());
    return (o.encodePrettily() + "\n").getBytes(StandardCharsets.UTF_8);
  }

  /** @throws IllegalArgumentException with a short reason when the bytes are not a version-1 envelope */
  static Envelope decode(byte[] bytes) {
    JsonObject o;
    try {
      o = new JsonObject(new String(bytes, StandardCharsets.UTF_8));
    } catch (DecodeException | ClassCastException e) {
      throw new IllegalArgumentException("envelope.json is not a JSON object: " + e.getMessage(), e);
    }
    try {
      Integer version = o.getInteger("version");
      if (version == null || version != Envelope.FORMAT_VERSION) {
        throw new IllegalArgumentException("unsupported envelope version " + version);
      }
      JsonArray rcpts = required(o.getJsonArray("recipients"), "recipients");
      List<String> recipients = new ArrayList<>(rcpts.size());
      for (int i = 0; i < rcpts.size(); i++) {
        recipients.add(required(rcpts.getString(i), "recipients[" + i + "]"));
      }
      if (recipients.isEmpty()) {
        throw new IllegalArgumentException("no recipients");
      }
      String next = o.getString("nextAttempt");
      return new Envelope(
          version,
          required(o.getString("id"), "id"),
          required(o.getString("sender"), "sender"),
          recipients,
          required(o.getString("client"), "client"),
          o.getString("helo", ""),
          Instant.parse(required(o.getString("arrived"), "arrived")),
          required(o.getLong("size"), "size"),
          o.getInteger("attempts", 0),
          next == null ? null : Instant.parse(next),
          o.getString("lastError"));
    } catch (ClassCastException | DateTimeParseException e) {
      throw new IllegalArgumentException("envelope.json has a field of the wrong type: " + e.getMessage(), e);
    }
  }

  private static <T> T required(T value, String name) {
    if (value == null) {
      throw new IllegalArgumentException("envelope.json lacks \"" + name + "\"");
    }
    return value;
  }
}
