package io.relay365.receive;

import java.net.InetAddress;
import java.time.Duration;

/**
 * What the listener knows about one client connection beyond subethasmtp's Session: the limits that
 * apply to it and the state of the rules that the library has no hook for (error count, deadline,
 * early talkers). One per accepted socket; it follows the connection through STARTTLS.
 */
final class Connection {
  final InetAddress client;
  /** The connection came in on the implicit-TLS listener (RFC 8314): TLS from the first byte. */
  final boolean implicitTls;
  private final long deadline;
  private final long commandTimeoutMs;
  private final int maxErrors;

  /** From now on reads see the end of the stream, so the session ends after its current reply. */
  private volatile boolean closing;
  private int errors;
  /** The next reply answers HELO/EHLO (or is the greeting): RFC 2034 puts no enhanced code there. */
  private boolean plainReply = true;
  /** Set when commands were already waiting after a DATA: the client pipelined without PIPELINING. */
  boolean pipelinedAfterData;
  /** The current transaction's MAIL had the SMTPUTF8 parameter (RFC 6531 3.4). */
  boolean smtputf8;
  /** Counted in the per-client connection count (released at the end). */
  boolean counted;

  Connection(InetAddress client, boolean implicitTls, Duration commandTimeout, Duration sessionTimeout,
      int maxErrors) {
    this.client = client;
    this.implicitTls = implicitTls;
    this.commandTimeoutMs = Math.max(1, Math.min(commandTimeout.toMillis(), Integer.MAX_VALUE));
    this.deadline = System.nanoTime() + sessionTimeout.toNanos();
    this.maxErrors = maxErrors;
  }

  boolean closing() {
    return closing;
  }

  void close() {
    closing = true;
  }

  /** The read timeout to use now: the per-command timeout, or less when the connection's deadline is nearer. */
  int readTimeoutMs() {
    long left = (deadline - System.nanoTime()) / 1_000_000;
    return (int) Math.max(1, Math.min(commandTimeoutMs, left));
  }

  boolean pastDeadline() {
    return System.nanoTime() - deadline >= 0;
  }

  void plainReplyNext() {
    plainReply = true;
  }

  /** Whether this reply line is to stay without an enhanced code; the last line of a reply ends the exemption. */
  boolean takePlainReply(boolean lastLine) {
    boolean p = plainReply;
    if (lastLine) {
      plainReply = false;
    }
    return p;
  }

  /** Counts a permanent refusal; true when this one reaches the limit and the connection must end. */
  boolean countError() {
    return ++errors >= maxErrors && !closing;
  }

  int errors() {
    return errors;
  }
}
