package io.relay365.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The real filesystem, except that the n-th operation (counted from {@link #arm}) fails with an
 * IOException; records the operations it sees so that a test can fail each step of a commit in turn.
 */
public final class FailingFileOps implements FileOps {
  private final List<String> seen = Collections.synchronizedList(new ArrayList<>());
  private volatile int failAt = -1;
  private volatile String failOn;
  private int count;

  /** Makes every operation named {@code step} (create, reuse, write, force, move, forceDir) fail; null disarms. */
  public void failOn(String step) {
    failOn = step;
  }

  /** Makes the n-th operation from now (0-based) fail; -1 disarms. */
  public synchronized void arm(int n) {
    failAt = n;
    count = 0;
    seen.clear();
  }

  public List<String> seen() {
    return List.copyOf(seen);
  }

  private synchronized void step(String name, Path path) throws IOException {
    seen.add(name + " " + (path == null ? "" : path.getFileName()));
    if (name.equals(failOn)) {
      throw new IOException("injected failure at " + name);
    }
    if (failAt >= 0 && count++ == failAt) {
      failAt = -1;
      throw new IOException("injected failure at " + name);
    }
  }

  @Override
  public FileChannel create(Path file) throws IOException {
    step("create", file);
    return REAL.create(file);
  }

  @Override
  public FileChannel reuse(Path file) throws IOException {
    step("reuse", file);
    return REAL.reuse(file);
  }

  @Override
  public void write(FileChannel ch, ByteBuffer buf) throws IOException {
    step("write", null);
    REAL.write(ch, buf);
  }

  @Override
  public void force(FileChannel ch) throws IOException {
    step("force", null);
    REAL.force(ch);
  }

  @Override
  public void move(Path from, Path to) throws IOException {
    step("move", to);
    REAL.move(from, to);
  }

  @Override
  public void forceDir(Path dir) throws IOException {
    step("forceDir", dir);
    REAL.forceDir(dir);
  }

  /** Opens a spool in {@code dir} that uses these operations (for tests outside this package). */
  public Spool open(Path dir) throws IOException {
    return Spool.open(dir, this);
  }
}
