package io.relay365.store;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

class SpoolTest {
  @TempDir Path dir;

  private static final byte[] MESSAGE = "Subject: hi\r\n\r\nbody\r\n".getBytes(UTF_8);

  static Envelope put(Spool spool, byte[] message, String sender, String... rcpts) throws IOException {
    try (Incoming in = spool.begin()) {
      in.body().write(message);
      return in.commit(sender, List.of(rcpts), "192.0.2.7", "printer.local");
    }
  }

  private static List<Path> list(Path d) throws IOException {
    try (Stream<Path> s = Files.list(d)) {
      return s.toList();
    }
  }

  /** queue/ entries whose name starts with {@code prefix} ("" lists committed ones only). */
  private List<Path> inQueue(String prefix) throws IOException {
    return list(dir.resolve("queue")).stream().filter(p -> {
      String name = p.getFileName().toString();
      return prefix.isEmpty() ? !name.startsWith(".") : name.startsWith(prefix);
    }).toList();
  }

  private List<Path> committed() throws IOException {
    return inQueue("");
  }

  private List<Path> parked() throws IOException {
    return inQueue(Spool.FREE);
  }

  private List<Path> receiving() throws IOException {
    return inQueue(Spool.NEW);
  }

  @Test
  void openCreatesPrivateLayout() throws IOException {
    Spool spool = Spool.open(dir.resolve("spool"));
    for (String sub : List.of("", "queue", "corrupt", "dead", "control")) {
      Path d = spool.dir().resolve(sub);
      assertThat(d).isDirectory();
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(d))).isEqualTo("rwx------");
    }
    assertThat(spool.size()).isZero();
    assertThat(spool.queued()).isEmpty();
  }

  @Test
  void openOnAFileFailsWithAClearMessage() throws IOException {
    Path file = Files.writeString(dir.resolve("not-a-dir"), "x");
    assertThatThrownBy(() -> Spool.open(file))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("Spool directory " + file)
        .hasMessageContaining("writable directory");
  }

  @Test
  void commitMakesADurableReadableEntry() throws IOException {
    Spool spool = Spool.open(dir);
    Instant before = Instant.now();
    Envelope e = put(spool, MESSAGE, "", "a@example.com", "b@example.com");

    assertThat(e.id()).hasSize(16);
    assertThat(e.sender()).isEmpty();
    assertThat(e.nullSender()).isTrue();
    assertThat(e.recipients()).containsExactly("a@example.com", "b@example.com");
    assertThat(e.client()).isEqualTo("192.0.2.7");
    assertThat(e.helo()).isEqualTo("printer.local");
    assertThat(e.attempts()).isZero();
    assertThat(e.size()).isEqualTo(MESSAGE.length);
    assertThat(e.arrived()).isBetween(before, Instant.now());
    assertThat(e.version()).isEqualTo(1);

    assertThat(spool.messageFile(e.id())).isEqualTo(dir.resolve("queue").resolve(e.id()).resolve("message.eml"));
    assertThat(Files.readAllBytes(spool.messageFile(e.id()))).isEqualTo(MESSAGE);
    assertThat(spool.read(e.id())).contains(e);
    assertThat(spool.queued()).containsExactly(e);
    assertThat(spool.size()).isEqualTo(1);
    assertThat(list(dir.resolve("queue"))).containsExactly(dir.resolve("queue").resolve(e.id()));

    // A person can read it: pretty JSON, version, ISO-8601 instants.
    String json = Files.readString(dir.resolve("queue").resolve(e.id()).resolve("envelope.json"));
    assertThat(json).contains("\"version\" : 1", "\"sender\" : \"\"", "\"arrived\" : \"" + e.arrived() + "\"")
        .contains("\n  ");
  }

  private static Object inode(Path p) throws IOException {
    return Files.getAttribute(p, "unix:ino");
  }

  private static byte[] repeat(String s, int times) {
    return s.repeat(times).getBytes(UTF_8);
  }

  /** Recycling: a delivered entry's inodes carry the next message, and nothing of the old one. */
  @Test
  void aDeliveredEntryIsEmptiedAndReusedWithNothingOfTheOldMessageLeft() throws IOException {
    Spool spool = Spool.open(dir);
    byte[] longOld = repeat("Subject: old secret\r\n\r\nOLD OLD OLD\r\n", 500);
    Envelope old = put(spool, longOld, "old@example.com", "a@example.com", "b@example.com", "c@example.com");
    Object oldMessageInode = inode(spool.messageFile(old.id()));
    Object oldDirInode = inode(spool.messageFile(old.id()).getParent());

    spool.remove(old.id());
    // emptied at once: a delivered message's bytes do not stay on disk
    List<Path> parked = parked();
    assertThat(parked).hasSize(1);
    assertThat(Files.size(parked.get(0).resolve("message.eml"))).isZero();
    assertThat(Files.size(parked.get(0).resolve("envelope.json"))).isZero();
    assertThat(committed()).isEmpty();
    assertThat(spool.queued()).isEmpty();

    Envelope fresh = put(spool, MESSAGE, "new@example.com", "d@example.com");
    Path file = spool.messageFile(fresh.id());
    assertThat(inode(file)).isEqualTo(oldMessageInode);
    assertThat(inode(file.getParent())).isEqualTo(oldDirInode);
    assertThat(Files.readAllBytes(file)).isEqualTo(MESSAGE); // shorter than the old one, no tail of it
    assertThat(spool.read(fresh.id())).contains(fresh);
    assertThat(Files.readString(file.resolveSibling("envelope.json"))).doesNotContain("old@example.com", "c@example.com");
    assertThat(list(dir.resolve("queue"))).containsExactly(file.getParent());
    assertThat(spool.queued()).containsExactly(fresh);
  }

  @Test
  void parkedEntriesSurviveARestartAndAreWrittenOverEvenIfNotEmptied() throws IOException {
    Spool spool = Spool.open(dir);
    spool.remove(put(spool, MESSAGE, "s@example.com", "a@example.com").id());
    // as if a crash came between parking and emptying, or while a message was received into it:
    // junk longer than the next message
    Path parked = parked().get(0);
    Files.write(parked.resolve("message.eml"), repeat("JUNK", 1000));
    Files.write(parked.resolve("envelope.json"), repeat("{JUNK}", 1000));

    Spool again = Spool.open(dir);
    Envelope e = put(again, MESSAGE, "s@example.com", "a@example.com");
    assertThat(Files.readAllBytes(again.messageFile(e.id()))).isEqualTo(MESSAGE);
    assertThat(again.read(e.id())).contains(e);
    assertThat(again.size()).isEqualTo(1);
    assertThat(parked()).isEmpty();
  }

  @Test
  void anEntryWithExtraFilesIsDeletedNotReusedAndFreeIsBounded() throws IOException {
    Spool spool = Spool.open(dir);
    Envelope dirty = put(spool, MESSAGE, "s@example.com", "a@example.com");
    Files.writeString(spool.messageFile(dirty.id()).resolveSibling("envelope.json.tmp"), "left by a crash");
    spool.remove(dirty.id());
    assertThat(list(dir.resolve("queue"))).isEmpty();

    List<Envelope> many = new ArrayList<>();
    for (int i = 0; i < Spool.FREE_ENTRIES + 5; i++) {
      many.add(put(spool, MESSAGE, "s@example.com", "a@example.com"));
    }
    for (Envelope e : many) {
      spool.remove(e.id());
    }
    assertThat(parked()).hasSize(Spool.FREE_ENTRIES);
    assertThat(list(dir.resolve("queue"))).hasSize(Spool.FREE_ENTRIES);
  }

  @Test
  void aFailureWhileReusingAnEntryLeavesNothingVisibleAndTheNextMessageStillWorks() throws IOException {
    FailingFileOps ops = new FailingFileOps();
    Spool spool = Spool.open(dir, ops);
    spool.remove(put(spool, MESSAGE, "s@example.com", "a@example.com").id());
    ops.failOn("reuse");
    Envelope e = put(spool, MESSAGE, "s@example.com", "a@example.com"); // falls back to a new entry
    ops.failOn(null);
    assertThat(ops.seen()).anyMatch(step -> step.startsWith("reuse"));
    assertThat(Files.readAllBytes(spool.messageFile(e.id()))).isEqualTo(MESSAGE);
    assertThat(spool.queued()).containsExactly(e);
    assertThat(list(dir.resolve("queue"))).containsExactly(spool.messageFile(e.id()).getParent());
  }

  /** What a restart finds parked is written over only if it is exactly an entry the spool parked. */
  @Test
  void aHardLinkToAQueuedMessageParkedInFreeNeverEmptiesIt() throws IOException {
    Spool spool = Spool.open(dir);
    byte[] held = repeat("Subject: held\r\n\r\nkeep me\r\n", 20);
    Envelope queued = put(spool, held, "held@example.com", "a@example.com");
    Path parked = Files.createDirectories(dir.resolve("queue").resolve(Spool.FREE + "h1"));
    Files.createLink(parked.resolve("message.eml"), spool.messageFile(queued.id()));
    Files.write(parked.resolve("envelope.json"), new byte[0]);

    Spool again = Spool.open(dir);
    Envelope next = put(again, MESSAGE, "other@example.com", "b@example.com");
    assertThat(Files.readAllBytes(again.messageFile(queued.id()))).isEqualTo(held);
    assertThat(again.read(queued.id())).contains(queued);
    assertThat(Files.readAllBytes(again.messageFile(next.id()))).isEqualTo(MESSAGE);
    assertThat(parked()).isEmpty();
    assertThat(again.size()).isEqualTo(2);
  }

  @Test
  void aSymlinkParkedInFreeIsNeverFollowed() throws IOException {
    Path victim = Files.writeString(dir.resolveSibling(dir.getFileName() + "-victim.txt"), "not mail");
    Spool.open(dir);
    Path parked = Files.createDirectories(dir.resolve("queue").resolve(Spool.FREE + "j8"));
    Files.createSymbolicLink(parked.resolve("message.eml"), victim);
    Files.write(parked.resolve("envelope.json"), new byte[0]);

    Spool spool = Spool.open(dir);
    Envelope e = put(spool, MESSAGE, "s@example.com", "a@example.com");
    assertThat(Files.readString(victim)).isEqualTo("not mail");
    assertThat(Files.readAllBytes(spool.messageFile(e.id()))).isEqualTo(MESSAGE);
    assertThat(parked()).isEmpty();
  }

  @Test
  void incompleteOrStrangeParkedEntriesAreDeletedAndMailStillGoesIn() throws IOException {
    Spool.open(dir);
    Path queue = dir.resolve("queue");
    String f = Spool.FREE;
    Files.writeString(Files.createDirectories(queue.resolve(f + "only-message")).resolve("message.eml"), "JUNK");
    Path extra = Files.createDirectories(queue.resolve(f + "extra"));
    for (String name : List.of("message.eml", "envelope.json", "notes.txt")) {
      Files.writeString(extra.resolve(name), "JUNK");
    }
    Path dirAsFile = Files.createDirectories(queue.resolve(f + "dir-as-file"));
    Files.writeString(dirAsFile.resolve("message.eml"), "JUNK");
    Files.createDirectories(dirAsFile.resolve("envelope.json"));
    Files.writeString(queue.resolve(f + "plain-file"), "JUNK");
    Files.createSymbolicLink(queue.resolve(f + "link-to-corrupt"), dir.resolve("corrupt"));

    Spool spool = Spool.open(dir);
    assertThat(list(queue)).isEmpty();
    assertThat(dir.resolve("corrupt")).isDirectory();
    for (int i = 0; i < 3; i++) { // no 451: every message gets a fresh entry
      Envelope e = put(spool, MESSAGE, "s@example.com", "a@example.com");
      assertThat(Files.readAllBytes(spool.messageFile(e.id()))).isEqualTo(MESSAGE);
    }
    assertThat(spool.queued()).hasSize(3);
  }

  @Test
  void theQueueToolsViewSkipsEntriesBeingReceivedAndParked() throws IOException {
    Spool spool = Spool.open(dir);
    Envelope kept = put(spool, MESSAGE, "s@example.com", "a@example.com");
    Envelope b = put(spool, MESSAGE, "s@example.com", "b@example.com");
    Envelope c = put(spool, MESSAGE, "s@example.com", "c@example.com");
    spool.remove(b.id());
    spool.remove(c.id());
    // two parked entries, both being received into, and a third message into a new entry
    try (Incoming one = spool.begin(); Incoming two = spool.begin(); Incoming three = spool.begin()) {
      for (Incoming in : List.of(one, two, three)) {
        in.body().write(MESSAGE);
        in.body().flush();
      }
      assertThat(parked()).hasSize(2);
      assertThat(receiving()).hasSize(1);
      Spool view = Spool.view(dir);
      assertThat(view.queued()).containsExactly(kept);
      assertThat(spool.queued()).containsExactly(kept);
      assertThat(spool.size()).isEqualTo(1);
    }
    assertThat(list(dir.resolve("corrupt"))).isEmpty();
  }

  /** Spools written before the hidden entries had tmp/ and free/ beside queue/: both are taken down. */
  @Test
  void tmpAndFreeOfAnOlderSpoolAreRetired() throws IOException {
    Spool spool = Spool.open(dir);
    Envelope queued = put(spool, MESSAGE, "s@example.com", "a@example.com");
    Path oldTmp = Files.createDirectories(dir.resolve("tmp").resolve("0000000000abcdef"));
    Files.write(oldTmp.resolve("message.eml"), MESSAGE);
    Path oldFree = Files.createDirectories(dir.resolve("free").resolve("x1"));
    Files.write(oldFree.resolve("message.eml"), new byte[0]);
    Files.write(oldFree.resolve("envelope.json"), new byte[0]);

    Spool again = Spool.open(dir);
    assertThat(dir.resolve("tmp")).doesNotExist();
    assertThat(dir.resolve("free")).doesNotExist();
    assertThat(again.queued()).containsExactly(queued);
    assertThat(Files.readAllBytes(again.messageFile(queued.id()))).isEqualTo(MESSAGE);
  }

  @Test
  void closeWithoutCommitLeavesNothing() throws IOException {
    Spool spool = Spool.open(dir);
    try (Incoming in = spool.begin()) {
      in.body().write(MESSAGE);
      assertThat(receiving()).hasSize(1);
      assertThat(spool.queued()).isEmpty();
    }
    assertThat(list(dir.resolve("queue"))).isEmpty();
    assertThat(spool.size()).isZero();
  }

  @Test
  void idsAreUniqueSortableAndSafe() throws Exception {
    Spool spool = Spool.open(dir);
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Callable<String>> tasks = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        tasks.add(() -> {
          try (Incoming in = spool.begin()) {
            return in.id();
          }
        });
      }
      Set<String> ids = new HashSet<>();
      for (Future<String> f : pool.invokeAll(tasks)) {
        String id = f.get();
        assertThat(id).matches("[0-9a-z]{16}");
        ids.add(id);
      }
      assertThat(ids).hasSize(200);
    } finally {
      pool.shutdownNow();
    }
    QueueIds q = new QueueIds();
    String earlier = q.next(1_700_000_000_000L);
    String later = q.next(1_700_000_000_001L);
    String muchLater = q.next(4_000_000_000_000L);
    assertThat(earlier).isLessThan(later);
    assertThat(later).isLessThan(muchLater);
  }

  @Test
  void queuedIsOldestFirstAndSurvivesRestart() throws IOException {
    Spool spool = Spool.open(dir);
    Envelope first = put(spool, MESSAGE, "a@example.com", "x@example.com");
    Envelope second = put(spool, MESSAGE, "b@example.com", "y@example.com");
    // Make the arrival order differ from the id order: queued() must follow arrival.
    spool.update(new Envelope(1, first.id(), first.sender(), first.recipients(), first.client(), first.helo(),
        second.arrived().plusSeconds(5), first.size(), 0, null, null));
    // A message half-received when the process died.
    Path half = Files.createDirectories(dir.resolve("queue").resolve(Spool.NEW + "0000000000abcdef"));
    Files.write(half.resolve("message.eml"), MESSAGE);

    Spool reopened = Spool.open(dir);
    assertThat(reopened.size()).isEqualTo(2);
    assertThat(reopened.queued()).extracting(Envelope::id).containsExactly(second.id(), first.id());
    assertThat(half).doesNotExist();
  }

  @Test
  void updateReplacesTheEnvelopeAtomically() throws IOException {
    Spool spool = Spool.open(dir);
    Envelope e = put(spool, MESSAGE, "a@example.com", "x@example.com");
    Instant next = Instant.parse("2030-01-02T03:04:05.678Z");
    Envelope failed = e.failed("451 4.7.0 try later", next);
    spool.update(failed);
    assertThat(spool.read(e.id())).contains(failed);
    assertThat(Spool.open(dir).queued()).containsExactly(failed);
    assertThat(list(dir.resolve("queue").resolve(e.id())))
        .extracting(p -> p.getFileName().toString()).containsExactlyInAnyOrder("message.eml", "envelope.json");
  }

  @Test
  void updateOfAMissingEntryFails() throws IOException {
    Spool spool = Spool.open(dir);
    Envelope e = put(spool, MESSAGE, "a@example.com", "x@example.com");
    spool.remove(e.id());
    assertThatThrownBy(() -> spool.update(e)).isInstanceOf(IOException.class);
    assertThat(committed()).isEmpty();
  }

  @Test
  void removeIsIdempotent() throws IOException {
    Spool spool = Spool.open(dir);
    Envelope e = put(spool, MESSAGE, "a@example.com", "x@example.com");
    spool.remove(e.id());
    spool.remove(e.id());
    assertThat(spool.size()).isZero();
    assertThat(spool.read(e.id())).isEmpty();
    assertThat(spool.queued()).isEmpty();
    assertThat(committed()).isEmpty();
  }

  @Test
  void idsThatCouldEscapeTheSpoolAreRefused() throws IOException {
    Spool spool = Spool.open(dir);
    for (String bad : List.of("../etc", "a/b", "", ".hidden", "x\ny")) {
      assertThatThrownBy(() -> spool.messageFile(bad)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> spool.remove(bad)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> spool.read(bad)).isInstanceOf(IllegalArgumentException.class);
    }
  }

  // --- corrupt entries: quarantined, never thrown, never seen again ---

  private Envelope corruptOne(Spool spool, CorruptionStep step) throws IOException {
    Envelope good = put(spool, MESSAGE, "a@example.com", "x@example.com");
    Envelope bad = put(spool, MESSAGE, "b@example.com", "y@example.com");
    step.apply(dir.resolve("queue").resolve(bad.id()));
    List<Envelope> queued = spool.queued();
    assertThat(queued).containsExactly(good);
    assertThat(spool.size()).isEqualTo(1);
    assertThat(dir.resolve("queue").resolve(bad.id())).doesNotExist();
    assertThat(dir.resolve("corrupt").resolve(bad.id()).resolve("reason.txt")).exists();
    assertThat(spool.queued()).containsExactly(good);
    assertThat(Spool.open(dir).queued()).containsExactly(good);
    return bad;
  }

  interface CorruptionStep {
    void apply(Path entry) throws IOException;
  }

  private String reason(Envelope bad) throws IOException {
    return Files.readString(dir.resolve("corrupt").resolve(bad.id()).resolve("reason.txt"));
  }

  @Test
  void unparseableEnvelopeIsQuarantined() throws IOException {
    Spool spool = Spool.open(dir);
    Envelope bad = corruptOne(spool, entry -> Files.writeString(entry.resolve("envelope.json"), "{\"version\": 1, \"id"));
    assertThat(reason(bad)).contains("not a JSON object");
    // the bytes are kept for a person to look at
    assertThat(dir.resolve("corrupt").resolve(bad.id()).resolve("message.eml")).hasBinaryContent(MESSAGE);
  }

  @Test
  void missingEnvelopeIsQuarantined() throws IOException {
    Spool spool = Spool.open(dir);
    Envelope bad = corruptOne(spool, entry -> Files.delete(entry.resolve("envelope.json")));
    assertThat(reason(bad)).contains("missing file").contains("envelope.json");
  }

  @Test
  void missingMessageIsQuarantined() throws IOException {
    Spool spool = Spool.open(dir);
    Envelope bad = corruptOne(spool, entry -> Files.delete(entry.resolve("message.eml")));
    assertThat(reason(bad)).contains("missing file").contains("message.eml");
  }

  @Test
  void truncatedMessageIsQuarantined() throws IOException {
    Spool spool = Spool.open(dir);
    Envelope bad = corruptOne(spool, entry -> Files.write(entry.resolve("message.eml"), "Subject: h".getBytes(UTF_8)));
    assertThat(reason(bad)).contains("message.eml has 10 bytes, envelope says " + MESSAGE.length);
  }

  @Test
  void unknownVersionIsQuarantined() throws IOException {
    Spool spool = Spool.open(dir);
    Envelope bad = corruptOne(spool, entry -> Files.writeString(entry.resolve("envelope.json"),
        Files.readString(entry.resolve("envelope.json")).replace("\"version\" : 1", "\"version\" : 7")));
    assertThat(reason(bad)).contains("unsupported envelope version 7");
  }

  @Test
  void wrongFieldTypesAreQuarantined() throws IOException {
    Spool spool = Spool.open(dir);
    Envelope bad2 = corruptOne(spool, entry -> Files.writeString(entry.resolve("envelope.json"),
        Files.readString(entry.resolve("envelope.json")).replaceFirst("\"arrived\" : \"[^\"]*\"", "\"arrived\" : \"yesterday\"")));
    assertThat(reason(bad2)).contains("wrong type");
  }

  @Test
  void readOfACorruptEntryThrowsWithoutQuarantining() throws IOException {
    Spool spool = Spool.open(dir);
    Envelope e = put(spool, MESSAGE, "a@example.com", "x@example.com");
    Files.delete(dir.resolve("queue").resolve(e.id()).resolve("message.eml"));
    assertThatThrownBy(() -> spool.read(e.id())).isInstanceOf(IOException.class).hasMessageContaining("message.eml");
  }

  // --- failure injection: every step of the commit protocol ---

  @Test
  void aFailureAtAnyStepOfCommitLeavesNoEntry() throws IOException {
    FailingFileOps ops = new FailingFileOps();
    Spool first = Spool.open(dir, ops);
    byte[] big = new byte[200_000]; // more than one buffer: several writes
    java.util.Arrays.fill(big, (byte) 'x');

    ops.arm(-1);
    Envelope ok = put(first, big, "a@example.com", "x@example.com");
    List<String> steps = ops.seen();
    first.remove(ok.id());
    // this test is about new entries: reopen with none parked (recycled ones have their own test below)
    for (Path parked : parked()) {
      Files.delete(parked.resolve("message.eml"));
      Files.delete(parked.resolve("envelope.json"));
      Files.delete(parked);
    }
    Spool spool = Spool.open(dir, ops);
    // the protocol, in order: the rename to queue/<id> comes after every fsync of the entry
    assertThat(String.join(",", steps)).matches(
        "create message.eml,(write ,)+force ,create envelope.json,write ,force ,forceDir \\.new-[0-9a-z]{16},"
            + "move [0-9a-z]{16},forceDir queue");

    for (int i = 0; i < steps.size(); i++) {
      ops.arm(i);
      failedCommitLeavesNothing(spool, big, steps.get(i));
    }
    ops.arm(-1);
    assertThat(put(spool, MESSAGE, "a@example.com", "x@example.com").size()).isEqualTo(MESSAGE.length);
  }

  /** The armed step fails: put() throws, and queue/ keeps nothing of the message, hidden or not. */
  private void failedCommitLeavesNothing(Spool spool, byte[] message, String step) throws IOException {
    assertThatThrownBy(() -> put(spool, message, "a@example.com", "x@example.com"))
        .as("failure at %s", step)
        .isInstanceOf(IOException.class)
        .hasMessageContaining("injected failure");
    assertThat(committed()).as("queue/ after failing %s", step).isEmpty();
    assertThat(receiving()).as("entries being received after failing %s", step).isEmpty();
    assertThat(spool.size()).isZero();
    assertThat(spool.queued()).isEmpty();
  }

  /** The same for a message received into a recycled entry: a failure after reuse began leaves nothing. */
  @Test
  void aFailureAtAnyStepOfCommitIntoARecycledEntryLeavesNoEntry() throws IOException {
    FailingFileOps ops = new FailingFileOps();
    Spool spool = Spool.open(dir, ops);
    byte[] big = new byte[200_000];
    java.util.Arrays.fill(big, (byte) 'y');
    spool.remove(put(spool, MESSAGE, "a@example.com", "x@example.com").id());

    ops.arm(-1);
    Envelope ok = put(spool, big, "a@example.com", "x@example.com");
    List<String> steps = ops.seen();
    // three fsyncs: a reused entry keeps its names, so its directory needs none
    assertThat(String.join(",", steps)).matches(
        "reuse message.eml,(write ,)+force ,reuse envelope.json,write ,force ,move [0-9a-z]{16},forceDir queue");
    spool.remove(ok.id());

    for (int i = 0; i < steps.size(); i++) {
      assertThat(parked()).hasSize(1); // one parked entry to reuse
      ops.arm(i);
      if (i == 0) { // reopening fails: the message goes into a new entry instead
        Envelope e = put(spool, big, "a@example.com", "x@example.com");
        assertThat(Files.readAllBytes(spool.messageFile(e.id()))).isEqualTo(big);
        spool.remove(e.id());
        assertThat(parked()).as("after failing %s", steps.get(i)).hasSize(1);
        continue;
      }
      failedCommitLeavesNothing(spool, big, steps.get(i));
      ops.arm(-1);
      spool.remove(put(spool, MESSAGE, "a@example.com", "x@example.com").id()); // park one again
    }
  }

  @Test
  void aFailedUpdateKeepsTheOldEnvelope() throws IOException {
    FailingFileOps ops = new FailingFileOps();
    Spool spool = Spool.open(dir, ops);
    Envelope e = put(spool, MESSAGE, "a@example.com", "x@example.com");
    ops.arm(-1);
    spool.update(e.failed("x", null));
    List<String> steps = ops.seen();
    assertThat(steps).containsExactly("create envelope.json.tmp", "write ", "force ", "move envelope.json",
        "forceDir " + e.id());
    for (int i = 0; i < steps.size() - 1; i++) { // the last step fails after the rename: new envelope stands
      ops.arm(i);
      assertThatThrownBy(() -> spool.update(e.failed("y", null))).isInstanceOf(IOException.class);
      assertThat(spool.read(e.id())).contains(e.failed("x", null));
      assertThat(list(dir.resolve("queue").resolve(e.id()))).hasSize(2);
    }
  }

  @Test
  void bodyIsWrittenThroughAsItArrives() throws IOException {
    Spool spool = Spool.open(dir);
    try (Incoming in = spool.begin()) {
      OutputStream body = in.body();
      byte[] chunk = new byte[64 * 1024];
      for (int i = 0; i < 20; i++) {
        body.write(chunk);
      }
      // the buffered stream holds at most one buffer: the rest is already in the temp file
      assertThat(Files.size(dir.resolve("queue").resolve(Spool.NEW + in.id()).resolve("message.eml")))
          .isGreaterThanOrEqualTo(19L * chunk.length);
      Envelope e = in.commit("a@example.com", List.of("x@example.com"), "::1", "");
      assertThat(e.size()).isEqualTo(20L * chunk.length);
    }
  }

  /** What the queue tool, /metrics and /status do while deliveries remove entries. */
  @Test
  void aListingThatRacesWithDeliveriesQuarantinesNothingAndLogsNothing() throws Exception {
    Spool spool = Spool.open(dir);
    Logger logger = (Logger) LoggerFactory.getLogger(Spool.class);
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    logger.addAppender(logs);
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      AtomicBoolean done = new AtomicBoolean();
      Future<Integer> lister = pool.submit(() -> {
        int listings = 0;
        while (!done.get()) {
          spool.queued();
          listings++;
        }
        return listings;
      });
      Future<?> deliveries = pool.submit(() -> {
        for (int i = 0; i < 400; i++) {
          List<Envelope> batch = new ArrayList<>();
          for (int j = 0; j < 5; j++) {
            batch.add(put(spool, MESSAGE, "s@example.com", "a@example.com"));
          }
          for (Envelope e : batch) {
            spool.remove(e.id());
          }
        }
        done.set(true);
        return null;
      });
      deliveries.get(60, TimeUnit.SECONDS);
      assertThat(lister.get(60, TimeUnit.SECONDS)).isPositive();
    } finally {
      pool.shutdownNow();
      logger.detachAppender(logs);
    }
    assertThat(list(dir.resolve("corrupt"))).isEmpty();
    assertThat(logs.list).as("nothing was corrupt").noneMatch(ev -> ev.getLevel().isGreaterOrEqual(Level.WARN));
    assertThat(spool.queued()).isEmpty();
    assertThat(spool.size()).isZero();
  }

  @Test
  void concurrentDeliveriesNeverParkMoreThanTheLimit() throws Exception {
    Spool spool = Spool.open(dir);
    List<Envelope> queued = new ArrayList<>();
    for (int i = 0; i < Spool.FREE_ENTRIES + 64; i++) {
      queued.add(put(spool, MESSAGE, "s@example.com", "a@example.com"));
    }
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<?>> removals = new ArrayList<>();
      for (Envelope e : queued) {
        removals.add(pool.submit(() -> {
          spool.remove(e.id());
          return null;
        }));
      }
      for (Future<?> f : removals) {
        f.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(parked()).hasSize(Spool.FREE_ENTRIES);
  }

  @Test
  void aParkedDirectoryOthersMayWriteToIsNotReused() throws IOException {
    Spool spool = Spool.open(dir);
    spool.remove(put(spool, MESSAGE, "s@example.com", "a@example.com").id());
    Path parked = parked().get(0);
    assertThat(Files.getPosixFilePermissions(parked)).isEqualTo(PosixFilePermissions.fromString("rwx------"));
    Files.setPosixFilePermissions(parked, PosixFilePermissions.fromString("rwxrwxrwx"));

    Spool again = Spool.open(dir);
    assertThat(parked).doesNotExist();
    Envelope next = put(again, MESSAGE, "s@example.com", "b@example.com");
    assertThat(Files.getPosixFilePermissions(again.messageFile(next.id()).getParent()))
        .isEqualTo(PosixFilePermissions.fromString("rwx------"));
  }
}

