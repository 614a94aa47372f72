package io.relay365.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the benchmarks read from Linux's /proc (proc(5)): resident memory of one process (VmHWM, the
 * kernel's own high-water mark) or of a process tree (Postfix is a master and many small children, so its
 * peak is the largest sum of their VmRSS seen by a sampler), CPU time, load, and a description of the
 * machine and of the filesystem a directory is on.
 */
final class ProcStats {
  private ProcStats() {}

  /** VmHWM (peak resident set) of a process, in bytes; -1 if it is gone. */
  static long peakRss(long pid) {
    return statusField(pid, "VmHWM:");
  }

  /** VmRSS of a process, in bytes; 0 if it is gone. */
  static long rss(long pid) {
    return Math.max(0, statusField(pid, "VmRSS:"));
  }

  private static long statusField(long pid, String name) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
        if (line.startsWith(name)) {
          String[] f = line.substring(name.length()).trim().split("\\s+");
          return Long.parseLong(f[0]) * 1024; // "kB"
        }
      }
    } catch (IOException | RuntimeException e) {
      return -1;
    }
    return -1;
  }

  /** The process and all its descendants (one pass over /proc; children found through the ppid field). */
  static Set<Long> tree(long root) {
    List<long[]> all = new ArrayList<>(); // {pid, ppid}
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString()
        .chars().allMatch(Character::isDigit))) {
      for (Path p : ds) {
        long ppid = ppid(p);
        if (ppid >= 0) {
          all.add(new long[] {Long.parseLong(p.getFileName().toString()), ppid});
        }
      }
    } catch (IOException e) {
      return Set.of(root);
    }
    Set<Long> tree = new HashSet<>();
    tree.add(root);
    boolean grew = true;
    while (grew) {
      grew = false;
      for (long[] pp : all) {
        if (tree.contains(pp[1]) && tree.add(pp[0])) {
          grew = true;
        }
      }
    }
    return tree;
  }

  private static long ppid(Path procDir) {
    try {
      String stat = Files.readString(procDir.resolve("stat"), StandardCharsets.US_ASCII);
      // the command name (field 2) is in parentheses and may hold spaces: parse after the last ')'
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(f[1]);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /** Sum of VmRSS over the process tree under {@code root}. */
  static long treeRss(long root) {
    long sum = 0;
    for (long pid : tree(root)) {
      sum += rss(pid);
    }
    return sum;
  }

  /** CPU time (user + system) of a process and of its waited-for children, in seconds; -1 if it is gone. */
  static double cpuSeconds(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"), StandardCharsets.US_ASCII);
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      // fields 14-17 (utime stime cutime cstime) are f[11..14] here; USER_HZ is 100 on Linux
      long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]) + Long.parseLong(f[13]) + Long.parseLong(f[14]);
      return ticks / 100.0;
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /**
   * CPU seconds spent so far by a JVM's JIT compiler threads (HotSpot names them "C1 CompilerThreadN" and
   * "C2 CompilerThreadN"; /proc keeps the first 15 characters of a thread's name); 0 if it is gone.
   */
  static double compilerCpuSeconds(long pid) {
    long ticks = 0;
    try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "task"))) {
      for (Path t : tasks) {
        try {
          String comm = Files.readString(t.resolve("comm"), StandardCharsets.US_ASCII).strip();
          if (!comm.startsWith("C1 CompilerThre") && !comm.startsWith("C2 CompilerThre")) {
            continue;
          }
          String stat = Files.readString(t.resolve("stat"), StandardCharsets.US_ASCII);
          String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
          ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]);
        } catch (IOException | RuntimeException e) {
          // the thread ended meanwhile
        }
      }
    } catch (IOException e) {
      return 0;
    }
    return ticks / 100.0;
  }

  /** CPU seconds of a whole tree (live processes, plus what the live ones reaped). */
  static double treeCpuSeconds(long root) {
    double sum = 0;
    for (long pid : tree(root)) {
      sum += Math.max(0, cpuSeconds(pid));
    }
    return sum;
  }

  /** Samples the tree's summed RSS until stopped, keeping the peak (Postfix has no single VmHWM). */
  static final class TreePeak implements AutoCloseable {
    private final AtomicLong peak = new AtomicLong();
    private final Thread thread;
    private volatile boolean running = true;

    TreePeak(long root, long intervalMillis) {
      thread = new Thread(() -> {
        while (running) {
          peak.accumulateAndGet(treeRss(root), Math::max);
          try {
            Thread.sleep(intervalMillis);
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "rss-sampler");
      thread.setDaemon(true);
      thread.start();
    }

    long peak() {
      return peak.get();
    }

    @Override
    public void close() {
      running = false;
      thread.interrupt();
    }
  }

  /** "1.23 0.80 0.40" from /proc/loadavg. */
  static String load() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split(" ");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException e) {
      return "?";
    }
  }

  /** CPU model, cores, memory and kernel, on one line. */
  static String machine() {
    String model = "?";
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (line.startsWith("model name")) {
          model = line.substring(line.indexOf(':') + 1).trim();
          break;
        }
      }
    } catch (IOException ignored) {
      // not Linux
    }
    long memKb = -1;
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
        if (line.startsWith("MemTotal:")) {
          memKb = Long.parseLong(line.replaceAll("\\D", ""));
        }
      }
    } catch (IOException | RuntimeException ignored) {
      // not Linux
    }
    String kernel = System.getProperty("os.name") + " " + System.getProperty("os.version");
    return String.format(Locale.ROOT, "%s, %d core(s), %.1f GB RAM, %s, Java %s", model,
        Runtime.getRuntime().availableProcessors(), memKb / 1024.0 / 1024.0, kernel, System.getProperty("java.version"));
  }

  /** The device, filesystem type and mount options of the filesystem holding {@code dir}, from /proc/mounts. */
  static String filesystem(Path dir) {
    String best = null;
    int bestLen = -1;
    String abs = dir.toAbsolutePath().normalize().toString();
    try {
      for (String line : Files.readAllLines(Path.of("/proc/mounts"))) {
        String[] f = line.split(" ");
        if (f.length < 4) {
          continue;
        }
        String mp = f[1].replace("\\040", " ");
        boolean under = abs.equals(mp) || abs.startsWith(mp.endsWith("/") ? mp : mp + "/");
        if (under && mp.length() > bestLen) {
          bestLen = mp.length();
          best = f[0] + " " + f[2] + " (" + f[3] + ") mounted on " + mp;
        }
      }
    } catch (IOException e) {
      return "?";
    }
    if (best == null) {
      return "?";
    }
    String dev = best.split(" ")[0];
    String disk = dev.startsWith("/dev/") ? blockDevice(dev.substring(5)) : "";
    return best + disk;
  }

  /** ", rotational=0, model ..." for a block device, from /sys/block. */
  private static String blockDevice(String name) {
    String base = name.replaceAll("p?\\d+$", "");
    for (String n : List.of(name, base)) {
      Path q = Path.of("/sys/block", n, "queue", "rotational");
      if (Files.exists(q)) {
        String rot = read(q);
        String model = read(Path.of("/sys/block", n, "device", "model"));
        return ", " + ("0".equals(rot) ? "non-rotational" : "rotational") + (model.isEmpty() ? "" : ", " + model);
      }
    }
    return "";
  }

  private static String read(Path p) {
    try {
      return Files.readString(p).trim();
    } catch (IOException e) {
      return "";
    }
  }
}
