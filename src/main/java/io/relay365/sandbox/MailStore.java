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
          messages.add(new ReceivedMessage(j.getInteger("seq"), j.getString("mailbox"), j.getString("anchor"),
              j.getString("disposition"), bcc, j.getString("tokenId"), Files.readAllBytes(eml), eml));
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
    int seq;
    synchronized (this) {
      seq = ++lastSeq;
    }
    String base = String.format("%06d", seq);
    Path eml = dir.resolve(base + ".eml");
    write(eml, mime);
    JsonObject j = new JsonObject().put("seq", seq).put("mailbox", mailbox).put("anchor", anchor)
        .put("disposition", disposition).put("bcc", new JsonArray(new ArrayList<>(bcc))).put("tokenId", tokenId)
        .put("size", mime.length).put("receivedAt", Instant.now().toString());
    write(dir.resolve(base + ".json"), j.encodePrettily().getBytes(StandardCharsets.UTF_8));
    ReceivedMessage m = new ReceivedMessage(seq, mailbox, anchor, disposition, bcc, tokenId, mime, eml);
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
