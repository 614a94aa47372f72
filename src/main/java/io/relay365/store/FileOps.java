package io.relay365.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * The few filesystem steps the spool's commit protocol depends on, behind one seam so that a test
 * can make each of them fail in turn (as chasquid's safeio_test does) and check that a failure
 * leaves no visible entry. Production code uses {@link #REAL}.
 */
interface FileOps {

  /** Creates a new file for writing; fails if it exists. */
  FileChannel create(Path file) throws IOException;

  /**
   * Opens an existing file of a recycled entry for writing from its start, emptied (O_TRUNC), so that
   * nothing of the message it held before can survive behind a shorter new one.
   */
  FileChannel reuse(Path file) throws IOException;

  /** Writes all of {@code buf}. */
  void write(FileChannel ch, ByteBuffer buf) throws IOException;

  /** fsync: data and metadata of the file reach the disk. */
  void force(FileChannel ch) throws IOException;

  /** Atomic rename (rename(2)); replaces an existing target file on POSIX. */
  void move(Path from, Path to) throws IOException;

  /**
   * fsync of a directory, so that a rename or a new name in it survives a crash: without it the
   * file's data may be on disk while its name is not (the gap models.md notes in chasquid).
   */
  void forceDir(Path dir) throws IOException;

  FileOps REAL = new FileOps() {
    @Override
    public FileChannel create(Path file) throws IOException {
      return FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    }

    @Override
    public FileChannel reuse(Path file) throws IOException {
      // never through a symlink: a reused file is written over
      return FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING,
          LinkOption.NOFOLLOW_LINKS);
    }

    @Override
    public void write(FileChannel ch, ByteBuffer buf) throws IOException {
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
    }

    @Override
    public void force(FileChannel ch) throws IOException {
      ch.force(true);
    }

    @Override
    public void move(Path from, Path to) throws IOException {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
    }

    @Override
    public void forceDir(Path dir) throws IOException {
      // Linux allows opening a directory read-only and fsyncing it; this is how the JDK exposes fsync(dirfd).
      try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
        ch.force(true);
      }
    }
  };
}
