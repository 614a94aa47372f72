package io.relay365.store;

import java.io.IOException;
import java.io.OutputStream;
import java.util.List;

/**
 * One message being received into the spool: a hidden entry in queue/ (its name starts with a dot) until
 * {@link #commit} makes it durable and names it queue/&lt;id&gt;. Not thread-safe: one SMTP session owns it.
 */
public interface Incoming extends AutoCloseable {

  /** The queue id this message will have once committed. */
  String id();

  /** Buffered stream to the temp message file; the caller writes the full message.eml bytes. */
  OutputStream body();

  /**
   * Forces the message and its envelope to disk and renames the entry to queue/&lt;id&gt; atomically. Only
   * when this returns may the relay answer 250. On IOException there is no committed entry and the
   * hidden one is gone.
   *
   * @return the stored envelope: attempts 0, arrived now, size = bytes written to {@link #body()}
   */
  Envelope commit(String sender, List<String> recipients, String client, String helo) throws IOException;

  /** If not committed, deletes the hidden entry. Never throws. */
  @Override
  void close();
}
