package io.relay365.bench;

import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A small SMTP client of our own that times each message from the moment the end of data ({@code CRLF.CRLF})
 * is written to the moment the 250 reply is read: the time the server takes to make the message safe,
 * which is what a sending device waits for. One connection per message, as devices (and smtp-source) do.
 */
final class SmtpProbe {
  private SmtpProbe() {}

  /** Latencies in nanoseconds of the messages that got a 250, and the count of those that did not. */
  record Result(long[] nanos, int failed, String firstFailure) {}

  static Result run(int port, int sessions, int messages, int bodySize, String from, String to)
      throws InterruptedException {
    long[] nanos = new long[messages];
    AtomicInteger next = new AtomicInteger();
    AtomicInteger ok = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    List<String> failures = java.util.Collections.synchronizedList(new ArrayList<>());
    ExecutorService pool = Executors.newFixedThreadPool(sessions);
    List<Future<?>> done = new ArrayList<>();
    for (int s = 0; s < sessions; s++) {
      done.add(pool.submit(() -> {
        int m;
        while ((m = next.getAndIncrement()) < messages) {
          try {
            nanos[ok.getAndIncrement()] = send(port, from, to, "probe " + m, bodySize);
          } catch (IOException e) {
            ok.decrementAndGet();
            failed.incrementAndGet();
            failures.add(e.getMessage());
          }
        }
        return null;
      }));
    }
    for (Future<?> f : done) {
      try {
        f.get();
      } catch (java.util.concurrent.ExecutionException e) {
        throw new IllegalStateException(e.getCause());
      }
    }
    pool.shutdown();
    long[] got = java.util.Arrays.copyOf(nanos, ok.get());
    return new Result(got, failed.get(), failures.isEmpty() ? null : failures.get(0));
  }

  /** Sends one message; returns the nanoseconds from writing CRLF.CRLF to reading the 250. */
  static long send(int port, String from, String to, String subject, long bodySize) throws IOException {
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
      s.setSoTimeout(600_000);
      s.setTcpNoDelay(true);
      BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
      OutputStream out = new BufferedOutputStream(s.getOutputStream(), 64 * 1024);
      expect(in, "220");
      command(out, in, "EHLO probe.bench.test", "250");
      command(out, in, "MAIL FROM:<" + from + ">", "250");
      command(out, in, "RCPT TO:<" + to + ">", "250");
      command(out, in, "DATA", "354");
      out.write(("From: <" + from + ">\r\nTo: <" + to + ">\r\nSubject: " + subject + "\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      writeBody(out, bodySize);
      out.flush();
      long t0 = System.nanoTime();
      out.write(".\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      String reply = reply(in);
      long t = System.nanoTime() - t0;
      if (!reply.startsWith("250")) {
        throw new IOException("end of data: " + reply);
      }
      try {
        command(out, in, "QUIT", "221");
      } catch (IOException ignored) {
        // the 250 is what counts
      }
      return t;
    }
  }

  /**
   * {@code size} bytes of body in lines of at most 78 characters + CRLF (like smtp-source's), ending in
   * CRLF; never a line starting with '.', so no dot-stuffing is needed.
   */
  static void writeBody(OutputStream out, long size) throws IOException {
    byte[] line = new byte[80];
    java.util.Arrays.fill(line, (byte) 'X');
    line[78] = '\r';
    line[79] = '\n';
    long left = size;
    long n = 0;
    while (left > 0) {
      int len = (int) Math.min(80, left);
      if (len <= 2) {
        out.write(line, 78, 2);
        left -= 2;
        continue;
      }
      byte[] l = line.clone();
      byte[] num = Long.toString(n++ % 100000).getBytes(StandardCharsets.US_ASCII);
      System.arraycopy(num, 0, l, 0, Math.min(num.length, len - 2));
      l[len - 2] = '\r';
      l[len - 1] = '\n';
      out.write(l, 0, len);
      left -= len;
    }
  }

  private static void command(OutputStream out, BufferedReader in, String line, String code) throws IOException {
    out.write((line + "\r\n").getBytes(StandardCharsets.US_ASCII));
    out.flush();
    String r = reply(in);
    if (!r.startsWith(code)) {
      throw new IOException(line.split(":")[0] + ": " + r);
    }
  }

  private static void expect(BufferedReader in, String code) throws IOException {
    String r = reply(in);
    if (!r.startsWith(code)) {
      throw new IOException("greeting: " + r);
    }
  }

  private static String reply(BufferedReader in) throws IOException {
    String line;
    do {
      line = in.readLine();
      if (line == null) {
        throw new IOException("connection closed");
      }
    } while (line.length() > 3 && line.charAt(3) == '-');
    return line;
  }
}
