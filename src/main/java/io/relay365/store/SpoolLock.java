package io.relay365.store;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/**
 * The spool's writer lock: spool/relay365.lock, held with an OS file lock (fcntl on Linux) by whoever
 * changes queue/ — the running daemon for its whole life, or the queue tool while the daemon is not
 * running. So at most one process ever moves or rewrites entries, and two daemons can never share a
 * spool. The kernel drops the lock when the process dies (kill -9 included): it is never stale.
 */
public final class SpoolLock implements AutoCloseable {
  static final String FILE = "relay365.lock";

  private final FileChannel channel;
  private final FileLock lock;

  private SpoolLock(FileChannel channel, FileLock lock) {
    this.channel = channel;
    this.lock = lock;
  }

  /** Takes the lock if no other process (or other holder in this JVM) has it; empty if it is held. */
  public static Optional<SpoolLock> tryAcquire(Path spoolDir) throws IOException {
    FileChannel ch = FileChannel.open(spoolDir.resolve(FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    try {
      FileLock l = ch.tryLock();
      if (l == null) {
        ch.close();
        return Optional.empty();
      }
      return Optional.of(new SpoolLock(ch, l));
    } catch (OverlappingFileLockException e) {
      ch.close();
      return Optional.empty();
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  @Override
  public void close() {
    try {
      lock.release();
    } catch (IOException ignored) {
      // closing the channel releases it too
    }
    try {
      channel.close();
    } catch (IOException ignored) {
      // nothing left to release
    }
  }
}
