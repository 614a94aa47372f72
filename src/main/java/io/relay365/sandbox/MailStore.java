package io.relay365.sandbox;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The sandbox "mailbox": NNNNNN.eml (decoded MIME exactly as received) and NNNNNN.json (metadata) in mailDir.
 * Numbering continues across restarts on the same dataDir, and messages of earlier runs are loaded, so
 * {@link #received()} is everything the service ever accepted in that directory.
 */
final class MailStore {
  private final Path dir;
  private final List<ReceivedMessage> messages = new ArrayList<>();
  private int lastSeq;

  MailStore(Path dir) throws IOException {
    this.dir = dir;
    Files.createDirectories(dir);
    try (Stream<Path> files = Files.list(dir)) {
      for (Path json : files.filter(p -> p.getFileName().toString().matches("\\d{6}\\.json")).sorted().toList()) {
        try {
          JsonObject j = new JsonObject(Files.readString(json, StandardCharsets.UTF_8));
          Path eml = dir.resolve(json.getFileName().toString().replace(".json", ".eml"));
          List<String> bcc = new ArrayList<>();
          j.getJsonArray("bcc", new JsonArray()).forEach(x -> bcc.add(String.valueOf(x)));
          List<String> rcpts = new ArrayList<>();
          j.getJsonArray("rcptTo", new JsonArray()).forEach(x -> rcpts.add(String.valueOf(x)));
          messages.add(new ReceivedMessage(j.getInteger("seq"), j.getString("mailbox"), j.getString("anchor"),
              j.getString("disposition"), bcc, j.getString("tokenId"), Files.readAllBytes(eml), eml,
              j.getString("transport", "ews"), j.getString("path"), j.getString("mailFrom"), rcpts));
          lastSeq = Math.max(lastSeq, j.getInteger("seq"));
        } catch (RuntimeException | IOException e) {
          // a half-written pair from a crash: skip it, but never reuse its number
        }
      }
    }
    try (Stream<Path> files = Files.list(dir)) {
      files.map(p -> p.getFileName().toString()).filter(n -> n.matches("\\d{6}\\.(eml|json)"))
          .forEach(n -> lastSeq = Math.max(lastSeq, Integer.parseInt(n.substring(0, 6))));
    }
  }

  Path dir() {
    return dir;
  }

  /** Writes the .eml, then the .json (each via a temp file + atomic rename), and records the message. */
  ReceivedMessage store(String mailbox, String anchor, String disposition, List<String> bcc, String tokenId,
      byte[] mime) throws IOException {
    return store(mailbox, anchor, disposition, bcc, tokenId, mime, "ews", null);
  }

  /** As above, for a transport ("ews", "graph") and the way the message came in ("sendMail", "draft+upload"). */
  ReceivedMessage store(String mailbox, String anchor, String disposition, List<String> bcc, String tokenId,
      byte[] mime, String transport, String path) throws IOException {
    JsonObject j = new JsonObject().put("mailbox", mailbox).put("anchor", anchor).put("disposition", disposition)
        .put("bcc", new JsonArray(new ArrayList<>(bcc))).put("tokenId", tokenId).put("transport", transport);
    if (path != null) {
      j.put("path", path);
    }
    return save(mime, j, (seq, eml) -> new ReceivedMessage(seq, mailbox, anchor, disposition, bcc, tokenId, mime,
        eml, transport, path, null, null));
  }

  /**
   * Stores a message received by SMTP submission: the .eml is exactly the (dot-unstuffed) DATA, the .json
   * says transport "smtp", the authenticated mailbox, the envelope sender and every envelope recipient.
   */
  ReceivedMessage storeSmtp(String mailbox, String mailFrom, List<String> rcptTo, List<String> hidden,
      String tokenId, byte[] mime) throws IOException {
    JsonObject j = new JsonObject().put("transport", "smtp").put("mailbox", mailbox).put("mailFrom", mailFrom)
        .put("rcptTo", new JsonArray(new ArrayList<>(rcptTo))).put("bcc", new JsonArray(new ArrayList<>(hidden)))
        .put("tokenId", tokenId);
    return save(mime, j, (seq, eml) -> new ReceivedMessage(seq, mailbox, null, null, hidden, tokenId, mime, eml,
        "smtp", null, mailFrom, rcptTo));
  }

  /** Numbers the message, writes NNNNNN.eml then NNNNNN.json (fields + seq, size, time), and records it. */
  private ReceivedMessage save(byte[] mime, JsonObject fields,
      java.util.function.BiFunction<Integer, Path, ReceivedMessage> made) throws IOException {
    int seq;
    synchronized (this) {
      seq = ++lastSeq;
    }
    String base = String.format("%06d", seq);
    Path eml = dir.resolve(base + ".eml");
    write(eml, mime);
    JsonObject j = new JsonObject().put("seq", seq).mergeIn(fields).put("size", mime.length)
        .put("receivedAt", Instant.now().toString());
    write(dir.resolve(base + ".json"), j.encodePrettily().getBytes(StandardCharsets.UTF_8));
    ReceivedMessage m = made.apply(seq, eml);
    synchronized (this) {
      // in seq order; stores finish nearly in order, so look from the end (sorting the whole list on each
      // store made the sandbox slower with every message it held)
      int i = messages.size();
      while (i > 0 && messages.get(i - 1).seq() > seq) {
        i--;
      }
      messages.add(i, m);
    }
    return m;
  }

  synchronized List<ReceivedMessage> received() {
    return List.copyOf(messages);
  }

  private static void write(Path target, byte[] data) throws IOException {
    Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
    Files.write(tmp, data);
    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }
}
