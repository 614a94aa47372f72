package io.relay365.deliver;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.util.HashMap;
import java.util.Map;
import javax.net.ssl.SSLContext;
import org.apache.http.Header;
import org.apache.http.HttpEntity;
import org.apache.http.client.config.RequestConfig;
import org.apache.http.client.methods.CloseableHttpResponse;
import org.apache.http.client.methods.HttpPost;
import org.apache.http.config.RegistryBuilder;
import org.apache.http.conn.socket.ConnectionSocketFactory;
import org.apache.http.conn.ssl.SSLConnectionSocketFactory;
import org.apache.http.entity.AbstractHttpEntity;
import org.apache.http.impl.client.CloseableHttpClient;
import org.apache.http.impl.client.HttpClients;
import org.apache.http.impl.conn.PoolingHttpClientConnectionManager;
import org.apache.http.util.EntityUtils;

/**
 * Posts a streamed CreateItem ({@link EwsCreateItem}) for the messages ews-java-api cannot carry within the
 * heap (see {@link EwsTransport#STREAM_ABOVE}). Same HTTP as ews-java-api's: POST with Content-Length,
 * {@code Content-Type: text/xml; charset=utf-8}, our Authorization and X-AnchorMailbox; and the same trust
 * decision as {@link StrictTlsExchangeService}: only https is registered (a bearer token never travels in
 * clear), system CAs + microsoft.ca-file, hostname verification. Thread-safe: the ews-* workers share one
 * small pool of keep-alive connections.
 */
final class EwsStreamingClient implements AutoCloseable {
  /** Largest reply body read (EWS replies to CreateItem are a few KB). */
  private static final int MAX_REPLY = 1024 * 1024;

  /** The HTTP status, the first value of each response header, and what the reply body says. */
  record Reply(int status, Map<String, String> headers, EwsReply reply) {}

  private final URI url;
  private final CloseableHttpClient http;

  EwsStreamingClient(URI url, SSLContext tls, int connections, int timeoutMillis) {
    this.url = url;
    PoolingHttpClientConnectionManager pool = new PoolingHttpClientConnectionManager(
        RegistryBuilder.<ConnectionSocketFactory>create()
            .register("https", new SSLConnectionSocketFactory(tls)).build());
    pool.setMaxTotal(connections);
    pool.setDefaultMaxPerRoute(connections);
    pool.setValidateAfterInactivity(2000); // a connection idle for 2 s is checked before reuse
    this.http = HttpClients.custom()
        .setConnectionManager(pool)
        .setDefaultRequestConfig(RequestConfig.custom().setConnectTimeout(timeoutMillis)
            .setSocketTimeout(timeoutMillis).setConnectionRequestTimeout(timeoutMillis)
            .setExpectContinueEnabled(false).build())
        .disableCookieManagement()
        .disableRedirectHandling()
        // never resend on its own: a resent CreateItem may be a second copy; the queue decides (ambiguous)
        .disableAutomaticRetries()
        .setUserAgent("relay365")
        .build();
  }

  /** One POST of {@code request}; the body is written from the spool as it goes. */
  Reply post(String token, String mailbox, EwsCreateItem request) throws IOException {
    HttpPost post = new HttpPost(url);
    post.setHeader("Content-Type", "text/xml; charset=utf-8");
    post.setHeader("Accept", "text/xml");
    post.setHeader("Authorization", "Bearer " + token);
    post.setHeader("X-AnchorMailbox", mailbox); // Microsoft: always with impersonation (§2.1)
    post.setEntity(new AbstractHttpEntity() {
      @Override
      public boolean isRepeatable() {
        return true;
      }

      @Override
      public long getContentLength() {
        return request.length();
      }

      @Override
      public InputStream getContent() {
        throw new UnsupportedOperationException("written with writeTo");
      }

      @Override
      public void writeTo(OutputStream out) throws IOException {
        request.writeTo(out);
      }

      @Override
      public boolean isStreaming() {
        return false;
      }
    });
    try (CloseableHttpResponse response = http.execute(post)) {
      Map<String, String> headers = new HashMap<>();
      for (Header h : response.getAllHeaders()) {
        headers.putIfAbsent(h.getName(), h.getValue());
      }
      byte[] body = new byte[0];
      HttpEntity entity = response.getEntity();
      if (entity != null) {
        try (InputStream in = entity.getContent()) {
          body = in.readNBytes(MAX_REPLY);
        }
        EntityUtils.consumeQuietly(entity); // the rest, if any, so the connection can be reused
      }
      return new Reply(response.getStatusLine().getStatusCode(), headers, EwsReply.parse(body));
    }
  }

  @Override
  public void close() throws IOException {
    http.close();
  }
}
