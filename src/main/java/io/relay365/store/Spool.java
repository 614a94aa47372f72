package io.relay365.store;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The durable on-disk queue. Directories are states, as in Postfix:
 * <pre>
 *   queue/&lt;id&gt;/       committed: message.eml (the bytes to deliver) + envelope.json (readable with cat)
 *   queue/.new-&lt;id&gt;/  being received into a new entry; never acknowledged, so deleted at start-up
 *   queue/.free-&lt;n&gt;/  an emptied entry of a delivered message, kept to receive the next one (see below)
 *   corrupt/&lt;id&gt;/     quarantined: unreadable entries with reason.txt; never retried, kept for a person
 *   dead/&lt;id&gt;/        dead letters: given up (permanent failure or too old), with reason.txt; kept for a person
 *   control/           requests from the queue tool to a running daemon ({@link QueueControl})
 * </pre>
 * Names in queue/ that start with a dot are never mail: listing, counting and the queue tool skip them.
 *
 * <p>Commit protocol (the 250 reply depends on it): write message.eml and envelope.json in the hidden
 * entry, fsync both, fsync the entry's directory if it is new (its two names must reach the disk), rename
 * it to queue/&lt;id&gt; (atomic: the rename is the commit marker and happens last), fsync queue/. A failure
 * at any step leaves no entry named as committed. Removal renames the entry to a hidden name first, so a
 * crash half-way through never leaves a half entry that looks committed.
 *
 * <p>Why the hidden entries live inside queue/ and not in directories of their own (tmp/ and free/, as
 * up to 2026-12-04): a rename between two directories changes both, and each had to be fsynced before the
 * 250 (else, after a crash, ext4 without a journal can show the entry under both names, and cleaning the
 * other name would empty a committed message). With every rename inside queue/, one fsync of queue/ makes
 * the commit durable, and a recycled entry keeps its names and its '..', so its directory needs none:
 * three fsyncs a message instead of six. Commits and removals that happen at about the same time share
 * that fsync of queue/ ({@link GroupSync}). Measured with the Postfix comparison (16 sessions, two runs
 * each): delivering while receiving, 1096-1293 messages a second end to end instead of 889-1049 with
 * tmp/ and free/; with delivery held (no entry to recycle, each message a new directory in queue/), six
 * runs each, 1061-1456 accepted a second against 1012-2200, too noisy to call (README, Performance).
 *
 * <p>Recycling: a delivered entry is not deleted but emptied (both files truncated to 0 bytes) and parked
 * as queue/.free-&lt;n&gt;, and the next message is received into it (files reopened with O_TRUNC, so nothing
 * of the old message can survive behind a shorter new one). Profiling the Postfix comparison put ext4's
 * inode allocator ({@code find_inode_bit}, {@code recently_deleted}) at about a quarter of the warmed-up
 * relay's CPU: each message created three inodes (its directory and two files) and each delivery freed
 * three. At most {@link #FREE_ENTRIES} entries are parked; the rest are deleted.
 */
public final class Spool {
  private static final Logger log = LoggerFactory.getLogger(Spool.class);
  static final String MESSAGE = "message.eml";
  static final String ENVELOPE = "envelope.json";
  private static final String REASON = "reason.txt";
  private static final String ENVELOPE_TMP = "envelope.json.tmp";
  /** Prefix of an entry being received into a new directory in queue/. */
  static final String NEW = ".new-";
  /** Prefix of a parked (emptied) entry in queue/, or one being received into. */
  static final String FREE = ".free-";
  private static final String PROBE = ".probe-";
  private static final Set<PosixFilePermission> PRIVATE = PosixFilePermissions.fromString("rwx------");
  private static final int BODY_BUFFER = 64 * 1024;
  /** Emptied entries kept for reuse: enough for every SMTP session of a busy relay to find one. */
  static final int FREE_ENTRIES = 256;

  private final Path dir;
  private final Path queue;
  private final Path corrupt;
  private final Path dead;
  private final Path control;
  private final ConcurrentLinkedDeque<Path> recycled = new ConcurrentLinkedDeque<>();
  private final AtomicInteger recycledCount = new AtomicInteger();
  /** This process's user as the spool's files show it (unix:uid), or null where they do not say. */
  private Object owner;
  private final FileOps ops;
  /** Renames into and out of queue/ by concurrent sessions and deliveries share its fsyncs. */
  private final GroupSync queueSync;
  private final boolean readOnly;
  private final QueueIds ids = new QueueIds();
  private final AtomicInteger size = new AtomicInteger();
  private volatile java.nio.file.FileStore store;

  private Spool(Path dir, FileOps ops) {
    this(dir, ops, false);
  }

  private Spool(Path dir, FileOps ops, boolean readOnly) {
    this.readOnly = readOnly;
    this.dir = dir;
    this.queue = dir.resolve("queue");
    this.corrupt = dir.resolve("corrupt");
    this.dead = dir.resolve("dead");
    this.control = dir.resolve("control");
    this.ops = ops;
    this.queueSync = new GroupSync(queue, ops);
  }

  public static Spool open(Path dir) throws IOException {
    return open(dir, FileOps.REAL);
  }

  static Spool open(Path dir, FileOps ops) throws IOException {
    Spool spool = new Spool(dir.toAbsolutePath().normalize(), ops);
    spool.init();
    return spool;
  }

  /**
   * A read-only view of a spool another process (the running daemon) owns: nothing is created, cleaned
   * or quarantined, and every method that would change the spool throws IllegalStateException. For the
   * queue tool's list/show while the daemon runs; {@link #size()} is not maintained.
   */
  public static Spool view(Path dir) throws IOException {
    Path d = dir.toAbsolutePath().normalize();
    if (!Files.isDirectory(d.resolve("queue"))) {
      throw new NoSuchFileException(d.toString(), null, "not a relay365 spool (no queue/ inside)");
    }
    return new Spool(d, FileOps.REAL, true);
  }

  private void writable() {
    if (readOnly) {
      throw new IllegalStateException("read-only view of the spool " + dir);
    }
  }

  private void init() throws IOException {
    try {
      for (Path d : List.of(dir, queue, corrupt, dead, control)) {
        createPrivateDir(d);
      }
      // Root ignores permission bits, so check by doing: create, force and remove a file.
      Path probe = queue.resolve(PROBE + ids.random(8));
      try (FileChannel ch = ops.create(probe)) {
        ops.force(ch);
        owner = ownerOf(probe);
      } finally {
        Files.deleteIfExists(probe);
      }
      Set<Object> named = committedInodes();
      retireLegacyDirs(named);
      int committed = 0;
      List<Path> parked = new ArrayList<>();
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(queue)) {
        for (Path p : ds) {
          String name = p.getFileName().toString();
          if (!hidden(name)) {
            committed++;
          } else if (name.startsWith(FREE)) {
            parked.add(p);
          } else if (name.startsWith(NEW) || name.startsWith(PROBE)) {
            // never acknowledged with 250: the client still has the message and will resend it
            removeLeftover(p, named);
          }
        }
      }
      adoptParkedEntries(parked, named);
      size.set(committed);
    } catch (IOException e) {
      throw new IOException("Spool directory " + dir + " is not usable (must be a writable directory): " + e, e);
    }
  }

  /** Names in queue/ that are not mail: entries being received, parked entries, probes. */
  static boolean hidden(String name) {
    return name.startsWith(".");
  }

  /** Inodes of every committed, dead and quarantined entry. */
  private Set<Object> committedInodes() throws IOException {
    Set<Object> named = new HashSet<>();
    for (Path state : List.of(queue, dead, corrupt)) {
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(state)) {
        for (Path p : ds) {
          if (state != queue || !hidden(p.getFileName().toString())) {
            named.add(inode(p));
          }
        }
      }
    }
    return named;
  }

  /**
   * Deletes a leftover that was never acknowledged, unless it is also a committed entry's directory under a
   * second name (ext4 without a journal can leave one after a crash before the fsync of queue/): deleting
   * its files would empty the committed message, and a directory name cannot be dropped on its own, so it
   * is left for fsck with a WARN line.
   */
  private static void removeLeftover(Path p, Set<Object> named) throws IOException {
    if (named.contains(inode(p))) {
      log.warn("Leaving {} alone: it is a second name of a queued, dead or corrupt entry (run fsck)", p);
      return;
    }
    log.info("Removing unacknowledged leftover {}", p);
    deleteTree(p);
  }

  /**
   * tmp/ and free/ of spools written before 2026-12-04 (see the class comment): leftovers in tmp/ were
   * never acknowledged and entries in free/ are empty, so both are deleted, then the directories.
   */
  private void retireLegacyDirs(Set<Object> named) throws IOException {
    for (String legacy : List.of("tmp", "free")) {
      Path d = dir.resolve(legacy);
      if (!Files.isDirectory(d, LinkOption.NOFOLLOW_LINKS)) {
        continue;
      }
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(d)) {
        for (Path p : ds) {
          removeLeftover(p, named);
        }
      }
      try {
        Files.deleteIfExists(d);
      } catch (IOException e) {
        log.warn("Could not remove the old spool directory {}: {}", d, e.toString());
      }
    }
  }

  /**
   * Emptied entries left by the last run are reused only if they are exactly what {@link #recycle} parks:
   * a real directory holding message.eml and envelope.json, regular files of this user with no other name,
   * and not also a queued, dead or corrupt entry or another parked one (after a crash, ext4 without a
   * journal can leave a directory under two names). A second name is left alone (see
   * {@link #removeLeftover}); anything else unusable is deleted (symlinks as links, never followed): a
   * reused file is written over, so a stray name must never lead to someone else's bytes.
   */
  private void adoptParkedEntries(List<Path> parked, Set<Object> named) throws IOException {
    Set<Object> adopted = new HashSet<>();
    for (Path p : parked) {
      Object ino = inode(p);
      if (named.contains(ino) || !adopted.add(ino)) {
        log.warn("Leaving {} alone: it is a second name of another entry (run fsck)", p);
        continue;
      }
      String why = unusable(p, owner);
      if (why == null && !park(p)) {
        why = "enough entries are parked";
      }
      if (why != null) {
        log.warn("Deleting {} instead of reusing it: {}", p, why);
        deleteQuietly(p);
      }
    }
  }

  /** Parks the entry for {@link #reuse}; false (nothing parked) if {@link #FREE_ENTRIES} already are. */
  private boolean park(Path entry) {
    if (recycledCount.incrementAndGet() > FREE_ENTRIES) { // a reservation: concurrent removals race here
      recycledCount.decrementAndGet();
      return false;
    }
    recycled.addLast(entry);
    return true;
  }

  /** The file's owner (unix:uid), or null where the filesystem does not say. */
  private static Object ownerOf(Path p) {
    try {
      return Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** The inode number, or an object equal to nothing where the filesystem does not say. */
  private static Object inode(Path p) throws IOException {
    try {
      return Files.getAttribute(p, "unix:ino", LinkOption.NOFOLLOW_LINKS);
    } catch (UnsupportedOperationException | IllegalArgumentException e) {
      return new Object();
    }
  }

  /**
   * Why this entry must not be written over, or null if it holds exactly message.eml and envelope.json:
   * regular files (not symlinks) with one name each (no hard link to anything else), in a real directory
   * that nobody else may write to, all owned by {@code owner} (this process's user; null: not checked).
   */
  private static String unusable(Path entry, Object owner) {
    try {
      if (!Files.isDirectory(entry, LinkOption.NOFOLLOW_LINKS)) {
        return "not a directory";
      }
      if (owner != null) {
        if (!owner.equals(Files.getAttribute(entry, "unix:uid", LinkOption.NOFOLLOW_LINKS))) {
          return "the directory belongs to another user";
        }
        // the next message would be committed in it: nobody else may add or swap its files
        Set<PosixFilePermission> mode = Files.getPosixFilePermissions(entry, LinkOption.NOFOLLOW_LINKS);
        if (mode.contains(PosixFilePermission.GROUP_WRITE) || mode.contains(PosixFilePermission.OTHERS_WRITE)) {
          return "the directory is writable by others";
        }
      }
      int own = 0;
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(entry)) {
        for (Path child : ds) {
          String name = child.getFileName().toString();
          if (!(name.equals(MESSAGE) || name.equals(ENVELOPE))) {
            return "it holds " + name;
          }
          if (!Files.isRegularFile(child, LinkOption.NOFOLLOW_LINKS)) {
            return name + " is not a regular file";
          }
          if (((Number) Files.getAttribute(child, "unix:nlink", LinkOption.NOFOLLOW_LINKS)).intValue() != 1) {
            return name + " has another name (a hard link)";
          }
          if (owner != null && !owner.equals(Files.getAttribute(child, "unix:uid", LinkOption.NOFOLLOW_LINKS))) {
            return name + " belongs to another user";
          }
          own++;
        }
      }
      return own == 2 ? null : "a file is missing";
    } catch (IOException | RuntimeException e) {
      return "unreadable: " + e;
    }
  }

  /** A new directory, rwx------ at most (the umask may narrow it); fails if the name exists. */
  private static void createEntryDir(Path entry) throws IOException {
    try {
      Files.createDirectory(entry, PosixFilePermissions.asFileAttribute(PRIVATE));
    } catch (UnsupportedOperationException e) {
      Files.createDirectory(entry);
    }
  }

  private static void createPrivateDir(Path d) throws IOException {
    if (Files.isDirectory(d)) {
      return;
    }
    try {
      createEntryDir(d);
    } catch (FileAlreadyExistsException e) {
      if (!Files.isDirectory(d)) {
        throw new IOException(d + " exists and is not a directory", e);
      }
    }
    // The umask may have narrowed the mode further, never widened it; set it exactly.
    try {
      Files.setPosixFilePermissions(d, PRIVATE);
    } catch (UnsupportedOperationException ignored) {
      // not a POSIX filesystem
    }
  }

  public Path dir() {
    return dir;
  }

  /** Allocates a new queue id and opens an entry to receive the message into (a parked one if there is one). */
  public Incoming begin() throws IOException {
    writable();
    for (int attempt = 0; ; attempt++) {
      String id = ids.next();
      if (Files.exists(queue.resolve(id), LinkOption.NOFOLLOW_LINKS)) {
        continue;
      }
      Temp reused = reuse(id);
      if (reused != null) {
        return reused;
      }
      Path entry = queue.resolve(NEW + id);
      try {
        createEntryDir(entry);
      } catch (FileAlreadyExistsException e) {
        if (attempt < 5) {
          continue;
        }
        throw e;
      }
      try {
        return new Temp(id, entry, ops.create(entry.resolve(MESSAGE)), false);
      } catch (IOException | RuntimeException e) {
        deleteQuietly(entry);
        throw e;
      }
    }
  }

  /**
   * Reopens a parked entry's message file emptied, to receive into where it lies; null if none is parked
   * or reopening fails (the caller then creates a new entry, as without recycling). It stays hidden until
   * the commit renames it.
   */
  private Temp reuse(String id) {
    Path parked = recycled.pollFirst();
    if (parked == null) {
      return null;
    }
    recycledCount.decrementAndGet();
    try {
      return new Temp(id, parked, ops.reuse(parked.resolve(MESSAGE)), true);
    } catch (IOException | RuntimeException e) {
      log.debug("cannot reuse {}: {}", parked, e.toString());
      deleteQuietly(parked);
      return null;
    }
  }

  /**
   * Empties a delivered entry (already renamed to a hidden name) and parks it for {@link #reuse}, or deletes
   * it when enough are parked or the entry holds anything but its two files. Never throws.
   */
  private void recycle(Path doomed) {
    try {
      if (recycledCount.get() >= FREE_ENTRIES || unusable(doomed, owner) != null) {
        deleteTree(doomed);
        return;
      }
      for (String name : List.of(MESSAGE, ENVELOPE)) {
        // a delivered message's bytes do not stay on disk; not fsynced: reuse truncates again (O_TRUNC)
        try (FileChannel ch = FileChannel.open(doomed.resolve(name), StandardOpenOption.WRITE,
            LinkOption.NOFOLLOW_LINKS)) {
          ch.truncate(0);
        }
      }
      if (!park(doomed)) {
        deleteTree(doomed);
      }
    } catch (IOException | RuntimeException e) {
      log.debug("cannot recycle {}: {}", doomed, e.toString());
      deleteQuietly(doomed);
    }
  }

  /**
   * Every committed entry, oldest arrival first. An entry that cannot be read is moved to corrupt/ with
   * reason.txt and a WARN log (never retried in a loop, never thrown).
   */
  public List<Envelope> queued() {
    List<Path> entries = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(queue)) {
      ds.forEach(entries::add);
    } catch (IOException e) {
      log.error("Cannot list spool queue {}: {}", queue, e.toString());
      return List.of();
    }
    List<Envelope> result = new ArrayList<>(entries.size());
    for (Path entry : entries) {
      String name = entry.getFileName().toString();
      if (hidden(name)) {
        continue; // being received, or parked: not mail
      }
      String problem;
      try {
        result.add(load(entry, name));
        continue;
      } catch (NoSuchFileException e) {
        problem = "missing file: " + e.getFile();
      } catch (IllegalArgumentException e) {
        problem = e.getMessage();
      } catch (IOException e) {
        problem = "unreadable: " + e;
      }
      // An entry delivered (renamed away) while this listing read it is gone, not corrupt.
      if (Files.exists(entry, LinkOption.NOFOLLOW_LINKS)) {
        quarantine(entry, problem);
      }
    }
    result.sort(Comparator.comparing(Envelope::arrived).thenComparing(Envelope::id));
    return result;
  }

  private Envelope load(Path entry, String name) throws IOException {
    if (!QueueIds.valid(name)) {
      throw new IllegalArgumentException("not a queue id: " + name);
    }
    if (!Files.isDirectory(entry, LinkOption.NOFOLLOW_LINKS)) {
      throw new IllegalArgumentException("not a directory");
    }
    Envelope e = EnvelopeJson.decode(Files.readAllBytes(entry.resolve(ENVELOPE)));
    if (!e.id().equals(name)) {
      throw new IllegalArgumentException("envelope id " + e.id() + " does not match directory " + name);
    }
    long actual = Files.size(entry.resolve(MESSAGE));
    if (actual != e.size()) {
      throw new IllegalArgumentException("message.eml has " + actual + " bytes, envelope says " + e.size());
    }
    return e;
  }

  /**
   * Moves queue/&lt;id&gt; to corrupt/ with the reason, if it is still there (the queue runner calls this when
   * an entry it was delivering turned out unreadable, so that it never retries it in a loop).
   */
  public void quarantine(String id, String reason) {
    Path entry = queue.resolve(QueueIds.check(id));
    if (Files.exists(entry, LinkOption.NOFOLLOW_LINKS)) {
      quarantine(entry, reason);
    }
  }

  /** Moves an unreadable entry to corrupt/ with the reason beside it (Postfix's corrupt queue). */
  private void quarantine(Path entry, String reason) {
    if (readOnly) {
      log.debug("not quarantining {} in a read-only view: {}", entry, reason);
      return;
    }
    String name = entry.getFileName().toString();
    Path target = corrupt.resolve(name);
    try {
      if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
        target = corrupt.resolve(name + "-" + ids.random(6));
      }
      try {
        ops.move(entry, target);
      } catch (NoSuchFileException gone) {
        log.debug("{} was removed before it could be quarantined ({})", entry, reason);
        return;
      }
      size.decrementAndGet();
      Path reasonFile = Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)
          ? target.resolve(REASON)
          : corrupt.resolve(target.getFileName() + "." + REASON);
      Files.writeString(reasonFile, Instant.now() + " " + reason + "\n", StandardCharsets.UTF_8);
      log.warn("Spool entry {} is corrupt ({}); moved to {}", name, reason, target);
    } catch (IOException e) {
      log.error("Spool entry {} is corrupt ({}) and could not be moved to {}: {}", name, reason, target, e.toString());
    }
  }

  /** queue/&lt;id&gt;/message.eml */
  public Path messageFile(String id) {
    return queue.resolve(QueueIds.check(id)).resolve(MESSAGE);
  }

  /** The committed entry's envelope, or empty if there is none. Does not quarantine. */
  public Optional<Envelope> read(String id) throws IOException {
    Path entry = queue.resolve(QueueIds.check(id));
    if (!Files.isDirectory(entry, LinkOption.NOFOLLOW_LINKS)) {
      return Optional.empty();
    }
    try {
      return Optional.of(load(entry, id));
    } catch (NoSuchFileException e) {
      if (!Files.exists(entry, LinkOption.NOFOLLOW_LINKS)) {
        return Optional.empty(); // removed meanwhile
      }
      throw new IOException("Spool entry " + id + " is incomplete: " + e.getFile() + " is missing", e);
    } catch (IllegalArgumentException e) {
      throw new IOException("Spool entry " + id + " is corrupt: " + e.getMessage(), e);
    }
  }

  /** Atomically replaces queue/&lt;id&gt;/envelope.json (temp, fsync, rename, fsync dir). */
  public void update(Envelope e) throws IOException {
    writable();
    Path entry = queue.resolve(QueueIds.check(e.id()));
    if (!Files.isDirectory(entry, LinkOption.NOFOLLOW_LINKS)) {
      throw new NoSuchFileException(entry.toString(), null, "no such spool entry");
    }
    Path temp = entry.resolve(ENVELOPE_TMP);
    Files.deleteIfExists(temp); // left by a crash during an earlier update
    try {
      writeDurably(temp, EnvelopeJson.encode(e));
      ops.move(temp, entry.resolve(ENVELOPE));
      ops.forceDir(entry);
    } catch (IOException | RuntimeException ex) {
      deleteQuietly(temp);
      throw ex;
    }
  }

  /** Removes the entry (after delivery). Idempotent. */
  public void remove(String id) throws IOException {
    writable();
    Path entry = queue.resolve(QueueIds.check(id));
    Path doomed = queue.resolve(FREE + ids.random(12));
    try {
      ops.move(entry, doomed);
    } catch (NoSuchFileException e) {
      return; // already removed
    }
    size.decrementAndGet();
    queueSync.await(queueSync.ticket());
    recycle(doomed);
  }

  /**
   * Makes the entry a dead letter: records the last attempt in its envelope and the reason in reason.txt
   * (both durably, inside queue/&lt;id&gt;/, where an extra file is harmless), then moves the entry to
   * dead/&lt;id&gt; with one rename, so a crash leaves it either queued (and retried) or dead, never half.
   *
   * @return the envelope as buried
   */
  public Envelope bury(Envelope e, String reason) throws IOException {
    writable();
    Path entry = queue.resolve(QueueIds.check(e.id()));
    if (!Files.isDirectory(entry, LinkOption.NOFOLLOW_LINKS)) {
      throw new NoSuchFileException(entry.toString(), null, "no such spool entry");
    }
    Envelope buried = e.failed(oneLine(reason), null);
    update(buried);
    writeDurably(entry.resolve(REASON),
        (Instant.now() + " " + oneLine(reason) + "\n").getBytes(StandardCharsets.UTF_8));
    Path target = dead.resolve(e.id());
    if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
      target = dead.resolve(e.id() + "-" + ids.random(6));
    }
    ops.move(entry, target);
    size.decrementAndGet();
    ops.forceDir(queue);
    ops.forceDir(dead);
    return buried;
  }

  /**
   * Puts a dead letter back in the queue, for the queue tool once the cause is fixed: a fresh envelope
   * (no attempts, due now, and a new lifetime counted from now, else it would die again at its first
   * failure), reason.txt dropped, then one rename back into queue/. Only the queue's writer calls this:
   * the daemon while it runs (a REQUEUE request), else the tool holding the spool lock.
   */
  public Envelope requeue(String id) throws IOException {
    writable();
    Path entry = dead.resolve(QueueIds.check(id));
    if (!Files.isDirectory(entry, LinkOption.NOFOLLOW_LINKS)) {
      throw new NoSuchFileException(entry.toString(), null, "no such dead letter");
    }
    Path target = queue.resolve(id);
    if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
      throw new FileAlreadyExistsException(target.toString(), null, "a queued message has the same id");
    }
    Envelope old = EnvelopeJson.decode(Files.readAllBytes(entry.resolve(ENVELOPE)));
    Envelope fresh = new Envelope(old.version(), old.id(), old.sender(), old.recipients(), old.client(), old.helo(),
        Instant.now(), old.size(), 0, null, oneLine("requeued from the dead letters; was: "
            + (old.lastError() == null ? "-" : old.lastError())));
    Path temp = entry.resolve(ENVELOPE_TMP);
    Files.deleteIfExists(temp);
    writeDurably(temp, EnvelopeJson.encode(fresh));
    ops.move(temp, entry.resolve(ENVELOPE));
    Files.deleteIfExists(entry.resolve(REASON));
    ops.forceDir(entry);
    ops.move(entry, target);
    size.incrementAndGet();
    ops.forceDir(dead);
    ops.forceDir(queue);
    return fresh;
  }

  /**
   * Deletes a dead letter for good. The daemon never writes to dead/&lt;id&gt; after burying it, so the queue
   * tool may do this while the daemon runs: one rename to a hidden name (which {@link #deadIds} skips),
   * then the files.
   */
  public void removeDead(String id) throws IOException {
    Path entry = dead.resolve(QueueIds.check(id));
    if (!Files.isDirectory(entry, LinkOption.NOFOLLOW_LINKS)) {
      throw new NoSuchFileException(entry.toString(), null, "no such dead letter");
    }
    Path doomed = dead.resolve("." + id + ".removed-" + ids.random(6));
    Files.move(entry, doomed, StandardCopyOption.ATOMIC_MOVE);
    deleteTree(doomed);
  }

  /** Every dead letter, oldest arrival first; unreadable ones are skipped (they are listed by {@link #deadIds}). */
  public List<Envelope> dead() {
    List<Envelope> result = new ArrayList<>();
    for (String id : deadIds()) {
      try {
        result.add(EnvelopeJson.decode(Files.readAllBytes(dead.resolve(id).resolve(ENVELOPE))));
      } catch (IOException | IllegalArgumentException e) {
        log.debug("dead letter {} unreadable: {}", id, e.toString());
      }
    }
    result.sort(Comparator.comparing(Envelope::arrived).thenComparing(Envelope::id));
    return result;
  }

  /** Names of the entries in dead/. */
  public List<String> deadIds() {
    List<String> ids = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dead)) {
      for (Path p : ds) {
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) && !p.getFileName().toString().startsWith(".")) {
          ids.add(p.getFileName().toString());
        }
      }
    } catch (IOException e) {
      log.error("Cannot list {}: {}", dead, e.toString());
    }
    ids.sort(null);
    return ids;
  }

  /** dead/&lt;id&gt;/reason.txt, or null. */
  public String deadReason(String id) {
    try {
      return Files.readString(dead.resolve(QueueIds.check(id)).resolve(REASON), StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      return null;
    }
  }

  /** dead/&lt;id&gt;/message.eml */
  public Path deadMessageFile(String id) {
    return dead.resolve(QueueIds.check(id)).resolve(MESSAGE);
  }

  /** control/: where the queue tool leaves requests for a running daemon. */
  public Path controlDir() {
    return control;
  }

  /** Bytes free for the relay on the spool's filesystem (for back-pressure). */
  public long usableSpace() throws IOException {
    java.nio.file.FileStore fs = store;
    if (fs == null) {
      // looked up once: finding the FileStore parses /proc/mounts, and this runs at every MAIL FROM
      fs = Files.getFileStore(queue);
      store = fs;
    }
    return fs.getUsableSpace();
  }

  private static String oneLine(String s) {
    return s == null ? "" : s.replaceAll("[\\r\\n\\t]+", " ").strip();
  }

  /** Number of committed entries; kept in memory, not counted from disk. */
  public int size() {
    return size.get();
  }

  private void writeDurably(Path file, byte[] bytes) throws IOException {
    writeDurably(file, bytes, false);
  }

  /** @param reuse the file exists in a recycled entry and is written over (O_TRUNC) instead of created */
  private void writeDurably(Path file, byte[] bytes, boolean reuse) throws IOException {
    try (FileChannel ch = reuse ? ops.reuse(file) : ops.create(file)) {
      ops.write(ch, ByteBuffer.wrap(bytes));
      ops.force(ch);
    }
  }

  private static void deleteTree(Path p) throws IOException {
    if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(p)) {
        for (Path child : ds) {
          deleteTree(child);
        }
      }
    }
    Files.deleteIfExists(p);
  }

  private static void deleteQuietly(Path p) {
    try {
      deleteTree(p);
    } catch (IOException | RuntimeException e) {
      log.warn("Could not delete {}: {}", p, e.toString());
    }
  }

  /** A message being received into a hidden entry of queue/, written through the FileOps seam. */
  private final class Temp implements Incoming {
    private final String id;
    private final Path entry;
    private final FileChannel channel;
    private final boolean reused;
    private final ChannelStream raw;
    private final OutputStream body;
    private boolean committed;
    private boolean closed;

    Temp(String id, Path entry, FileChannel channel, boolean reused) {
      this.id = id;
      this.entry = entry;
      this.channel = channel;
      this.reused = reused;
      this.raw = new ChannelStream(channel);
      this.body = new BufferedOutputStream(raw, BODY_BUFFER);
    }

    @Override
    public String id() {
      return id;
    }

    @Override
    public OutputStream body() {
      if (committed || closed) {
        throw new IllegalStateException("spool entry " + id + " is no longer open");
      }
      return body;
    }

    @Override
    public Envelope commit(String sender, List<String> recipients, String client, String helo) throws IOException {
      if (committed || closed) {
        throw new IllegalStateException("spool entry " + id + " is no longer open");
      }
      Path visible = queue.resolve(id);
      boolean moved = false;
      try {
        body.flush();
        ops.force(channel);
        channel.close();
        Envelope e = new Envelope(Envelope.FORMAT_VERSION, id, sender, recipients, client, helo == null ? "" : helo,
            Instant.now(), raw.count, 0, null, null);
        writeDurably(entry.resolve(ENVELOPE), EnvelopeJson.encode(e), reused);
        if (!reused) {
          // a new directory's two names must be on disk before it is named as committed; a reused one
          // already holds these names, and a rename inside queue/ leaves its '..' as it was
          ops.forceDir(entry);
        }
        ops.move(entry, visible);
        moved = true;
        queueSync.await(queueSync.ticket());
        committed = true;
        size.incrementAndGet();
        return e;
      } catch (IOException | RuntimeException ex) {
        // The client will get a 4xx and resend, so the entry must not be delivered: take it back out.
        if (moved) {
          try {
            Files.move(visible, entry, StandardCopyOption.ATOMIC_MOVE);
          } catch (IOException | RuntimeException undo) {
            deleteQuietly(visible);
          }
        }
        close();
        throw ex;
      }
    }

    @Override
    public void close() {
      if (committed || closed) {
        return;
      }
      closed = true;
      try {
        channel.close();
      } catch (IOException | RuntimeException e) {
        log.debug("closing {}: {}", entry, e.toString());
      }
      deleteQuietly(entry);
    }
  }

  /** OutputStream over a FileChannel that goes through the seam and counts bytes. */
  private final class ChannelStream extends OutputStream {
    private final FileChannel ch;
    long count;

    ChannelStream(FileChannel ch) {
      this.ch = ch;
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      ops.write(ch, ByteBuffer.wrap(b, off, len));
      count += len;
    }
  }
}
