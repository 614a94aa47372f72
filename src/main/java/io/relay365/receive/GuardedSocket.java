package io.relay365.receive;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketException;
import java.net.SocketTimeoutException;

/**
 * The client socket as subethasmtp sees it: a thin delegate that owns the two rules the library has no
 * hook for, because its Session writes replies and reads lines itself.
 * <ul>
 * <li>Replies pass through {@link ReplyStream}, which adds RFC 3463 enhanced codes where the library
 * leaves them out (so that advertising ENHANCEDSTATUSCODES is honest) and counts permanent errors:
 * at smtp.max-errors it adds "421 4.7.0" and ends the connection (chasquid's and Postfix's rule).</li>
 * <li>Reads end the connection at smtp.session-timeout (each read's timeout is cut to the time left),
 * and see the end of the stream once the connection is closing.</li>
 * </ul>
 * After STARTTLS a new GuardedSocket wraps the SSLSocket, so both rules see plaintext.
 */
final class GuardedSocket extends Socket {
  private final Socket inner;
  private final Connection connection;
  private InputStream in;
  private OutputStream out;

  GuardedSocket(Socket inner, Connection connection) {
    this.inner = inner;
    this.connection = connection;
  }

  Socket inner() {
    return inner;
  }

  Connection connection() {
    return connection;
  }

  @Override
  public synchronized InputStream getInputStream() throws IOException {
    if (in == null) {
      in = new Input(inner.getInputStream());
    }
    return in;
  }

  @Override
  public synchronized OutputStream getOutputStream() throws IOException {
    if (out == null) {
      out = new ReplyStream(inner.getOutputStream(), connection);
    }
    return out;
  }

  private final class Input extends FilterInputStream {
    Input(InputStream in) {
      super(in);
    }

    private void before() throws IOException {
      if (connection.pastDeadline()) {
        throw new SocketTimeoutException("connection time limit reached");
      }
      inner.setSoTimeout(connection.readTimeoutMs());
    }

    @Override
    public int read() throws IOException {
      if (connection.closing()) {
        return -1;
      }
      before();
      return super.read();
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (connection.closing()) {
        return -1;
      }
      before();
      return super.read(b, off, len);
    }

    @Override
    public int available() throws IOException {
      return connection.closing() ? 0 : super.available();
    }
  }

  // --- delegation of what Session, the STARTTLS layer and ServerThread use

  @Override
  public synchronized void close() throws IOException {
    inner.close();
  }

  @Override
  public boolean isClosed() {
    return inner.isClosed();
  }

  @Override
  public boolean isBound() {
    return inner.isBound();
  }

  @Override
  public boolean isConnected() {
    return inner.isConnected();
  }

  @Override
  public void setSoTimeout(int timeout) throws SocketException {
    inner.setSoTimeout(timeout);
  }

  @Override
  public int getSoTimeout() throws SocketException {
    return inner.getSoTimeout();
  }

  @Override
  public InetAddress getInetAddress() {
    return inner.getInetAddress();
  }

  @Override
  public int getPort() {
    return inner.getPort();
  }

  @Override
  public SocketAddress getRemoteSocketAddress() {
    return inner.getRemoteSocketAddress();
  }

  @Override
  public InetAddress getLocalAddress() {
    return inner.getLocalAddress();
  }

  @Override
  public int getLocalPort() {
    return inner.getLocalPort();
  }

  @Override
  public SocketAddress getLocalSocketAddress() {
    return inner.getLocalSocketAddress();
  }

  @Override
  public void shutdownInput() throws IOException {
    inner.shutdownInput();
  }

  @Override
  public void shutdownOutput() throws IOException {
    inner.shutdownOutput();
  }

  @Override
  public boolean isInputShutdown() {
    return inner.isInputShutdown();
  }

  @Override
  public boolean isOutputShutdown() {
    return inner.isOutputShutdown();
  }

  @Override
  public String toString() {
    return "GuardedSocket[" + inner + "]";
  }
}
