package io.relay365.deliver;

import javax.net.ssl.SSLContext;
import microsoft.exchange.webservices.data.core.ExchangeService;
import microsoft.exchange.webservices.data.core.enumeration.misc.ExchangeVersion;
import org.apache.http.config.Registry;
import org.apache.http.config.RegistryBuilder;
import org.apache.http.conn.socket.ConnectionSocketFactory;
import org.apache.http.conn.ssl.SSLConnectionSocketFactory;

/**
 * An ExchangeService that checks the server's certificate. ews-java-api's own EwsX509TrustManager accepts
 * any self-signed certificate (libraries.md §4), so this subclass replaces the socket factory registry with
 * a plain {@link SSLConnectionSocketFactory} over our trust decision (system CAs + microsoft.ca-file) and
 * the default hostname verification. Only https is registered: a bearer token never travels in clear.
 *
 * <p>ews-java-api 2.0 builds its HTTP client from the ExchangeServiceBase constructor, before a subclass
 * field exists, so the factory reaches {@link #createConnectionSocketFactoryRegistry()} through a
 * thread-local set by {@link #create}.
 */
public final class StrictTlsExchangeService extends ExchangeService {
  private static final ThreadLocal<SSLConnectionSocketFactory> CONSTRUCTING = new ThreadLocal<>();

  private final SSLConnectionSocketFactory tls;

  private StrictTlsExchangeService(ExchangeVersion version) {
    super(version);
    this.tls = CONSTRUCTING.get();
  }

  public static StrictTlsExchangeService create(ExchangeVersion version, SSLContext context) {
    return create(version, new SSLConnectionSocketFactory(context));
  }

  static StrictTlsExchangeService create(ExchangeVersion version, SSLConnectionSocketFactory tls) {
    CONSTRUCTING.set(tls);
    try {
      return new StrictTlsExchangeService(version);
    } finally {
      CONSTRUCTING.remove();
    }
  }

  @Override
  protected Registry<ConnectionSocketFactory> createConnectionSocketFactoryRegistry() {
    SSLConnectionSocketFactory f = tls != null ? tls : CONSTRUCTING.get();
    if (f == null) {
      throw new IllegalStateException("StrictTlsExchangeService must be built with create()");
    }
    return RegistryBuilder.<ConnectionSocketFactory>create().register("https", f).build();
  }

  /**
   * Drops the last request and response that Apache HttpClient keeps in the service's shared
   * context ("http.request" holds the whole request entity: tens of MB for a large scan). With one
   * long-lived service per worker thread, each idle worker would otherwise pin its last message.
   */
  void forgetLastExchange() {
    httpContext.removeAttribute(org.apache.http.protocol.HttpCoreContext.HTTP_REQUEST);
    httpContext.removeAttribute(org.apache.http.protocol.HttpCoreContext.HTTP_RESPONSE);
  }
}
