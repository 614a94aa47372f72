package io.relay365.store;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * syncfs(2): writes every dirty file, inode and directory block of one filesystem to stable storage
 * and flushes the device cache, in one call. One syncfs after many sessions wrote their spool entries
 * makes all of them durable at once, where an fsync per file, per directory, per message would each pay
 * its own write and flush; on a filesystem without a journal (as on the benchmark machine) fsyncs are not
 * even merged by the kernel, and the difference is several times the CPU and the latency.
 *
 * <p>Off unless {@code -Drelay365.spool.syncfs=true} (see {@link #enabled()}). The JDK has no syncfs, so it
 * is called through JNA. Used only on Linux 5.8 or later: before 5.8
 * syncfs did not report writeback errors (a failed write could go unnoticed; see syncfs(2), "VERSIONS"),
 * and a 250 must never follow a write that failed. Anywhere else {@link #supported()} is false and the
 * spool fsyncs each file instead (the default).
 */
final class FileSystemSync {
  private static final Logger log = LoggerFactory.getLogger(FileSystemSync.class);
  private static final int O_RDONLY = 0;
  private static final int O_CLOEXEC = 0x80000; // 02000000, the same on x86-64 and aarch64

  /** libc's open/syncfs/close; each failure raises LastErrorException with errno. */
  interface LibC extends Library {
    int open(String path, int flags) throws LastErrorException;

    int syncfs(int fd) throws LastErrorException;

    int close(int fd) throws LastErrorException;
  }

  /** Loaded on first use only, so that a relay without syncfs never loads JNA's native library. */
  private static final class Holder {
    static final LibC LIBC = load();
  }

  private FileSystemSync() {}

  private static LibC load() {
    String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
    if (!os.equals("linux") || !atLeast(System.getProperty("os.version", ""), 5, 8)) {
      log.info("spool: syncfs not used on {} {} (needs Linux 5.8+); one fsync per file instead", os,
          System.getProperty("os.version"));
      return null;
    }
    try {
      LibC libc = Native.load("c", LibC.class);
      return libc;
    } catch (LinkageError | RuntimeException e) {
      log.info("spool: syncfs unavailable ({}); one fsync per file instead", e.toString());
      return null;
    }
  }

  static boolean atLeast(String version, int major, int minor) {
    String[] p = version.split("[^0-9]+");
    try {
      int ma = Integer.parseInt(p[0]);
      int mi = p.length > 1 ? Integer.parseInt(p[1]) : 0;
      return ma > major || (ma == major && mi >= minor);
    } catch (NumberFormatException | ArrayIndexOutOfBoundsException e) {
      return false;
    }
  }

  /** Whether this platform offers a trustworthy syncfs (Linux 5.8+, JNA loaded). */
  static boolean supported() {
    return Holder.LIBC != null;
  }

  /**
   * Whether the spool uses it: only when asked with {@code -Drelay365.spool.syncfs=true}. syncfs writes
   * every dirty file of the filesystem, other programs' too, so on a shared filesystem a commit would wait
   * for their writes (measured on the shared benchmark machine: worse latency than an fsync per file);
   * it pays off on a spool filesystem of its own.
   */
  static boolean enabled() {
    return Boolean.getBoolean("relay365.spool.syncfs") && Holder.LIBC != null;
  }

  /** syncfs on the filesystem that holds {@code dir}. */
  static void sync(Path dir) throws IOException {
    LibC libc = Holder.LIBC;
    if (libc == null) {
      throw new IOException("syncfs is not available here");
    }
    int fd;
    try {
      fd = libc.open(dir.toString(), O_RDONLY | O_CLOEXEC);
    } catch (LastErrorException e) {
      throw new IOException("cannot open " + dir + " for syncfs: errno " + e.getErrorCode());
    }
    try {
      libc.syncfs(fd);
    } catch (LastErrorException e) {
      throw new IOException("syncfs of " + dir + " failed: errno " + e.getErrorCode());
    } finally {
      try {
        libc.close(fd);
      } catch (LastErrorException ignored) {
        // nothing to do about a failed close of a read-only descriptor
      }
    }
  }
}
