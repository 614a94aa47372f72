package io.relay365.deliver;

import com.microsoft.aad.msal4j.ClientCredentialFactory;
import com.microsoft.aad.msal4j.ClientCredentialParameters;
import com.microsoft.aad.msal4j.ConfidentialClientApplication;
import com.microsoft.aad.msal4j.IClientCredential;
import com.microsoft.aad.msal4j.MsalServiceException;
import io.relay365.config.ConfigException;
import io.relay365.config.Settings;
import io.relay365.deliver.Outcome.Kind;
import io.relay365.tls.Pem;
import io.relay365.tls.TrustStores;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLException;

/**
 * App-only tokens from Entra ID through msal4j's client-credentials flow (microsoft-wire.md §1).
 *
 * <p>One ConfidentialClientApplication for the life of the process, configured around msal4j's traps
 * (libraries.md §2): no instance discovery (it would GET login.microsoftonline.com even for a private
 * authority), a small dedicated executor instead of the common pool, finite timeouts, our trust store,
 * no PII in logs, and skipCache because {@link TokenCache} owns caching (msal's cache misses every time
 * when the authority has a port, and it has no single-flight). msal's own 5xx retry is disabled for
 * the same reason: retries and their backoff belong to TokenCache and the queue.
 *
 * <p>Every failure becomes a {@link TokenException}: TRANSIENT for 5xx, network and timeouts,
 * CONFIGURATION for the AADSTS codes of §1.4 and any other 4xx, with a hint for the operator.
 */
public final class MsalTokenSource implements TokenSource, AutoCloseable {
  private static final Pattern AADSTS = Pattern.compile("AADSTS(\\d+)");

  /** §1.4: codes that mean misconfiguration, and what the operator should do. */
  static final Map<String, String> HINTS = Map.ofEntries(
      Map.entry("7000215", "the client secret is wrong: paste the secret's Value, not its ID, or create a new"
          + " one (microsoft.client-secret)"),
      Map.entry("7000222", "the client secret has expired: create a new one (microsoft.client-secret) or move to"
          + " a certificate (microsoft.certificate)"),
      Map.entry("700016", "the application was not found in this tenant: check microsoft.client-id and"
          + " microsoft.tenant-id, and that the app is consented in that tenant"),
      Map.entry("90002", "the tenant was not found: check microsoft.tenant-id, and microsoft.login-url for the"
          + " cloud (a GCC High tenant needs https://login.microsoftonline.us)"),
      Map.entry("900023", "microsoft.tenant-id is malformed: use the tenant GUID or a verified domain"),
      Map.entry("70011", "the scope is invalid: microsoft.scope must be the EWS resource + \"/.default\""
          + " (e.g. https://outlook.office365.com/.default)"),
      Map.entry("1002012", "the scope is invalid: microsoft.scope must end in \"/.default\""),
      Map.entry("500011", "the resource is not in this tenant: microsoft.scope names the wrong resource (use"
          + " https://outlook.office365.com/.default, not the EWS URL)"),
      Map.entry("700027", "the certificate is not registered on the app (or the key does not match it):"
          + " upload microsoft.certificate to the app registration"),
      Map.entry("700024", "the client assertion is outside its validity window: the host clock is wrong;"
          + " enable NTP"),
      Map.entry("7000218", "no credential was sent: configure microsoft.client-secret or microsoft.certificate"),
      Map.entry("50049", "unknown authority: check microsoft.login-url for the tenant's cloud"));

  private final ConfidentialClientApplication app;
  private final ClientCredentialParameters parameters;
  private final ExecutorService executor;
  private final Duration timeout;

  public MsalTokenSource(Settings.Microsoft ms) throws IOException, GeneralSecurityException {
    this.timeout = ms.timeout();
    this.executor = Executors.newFixedThreadPool(2, daemonThreads("msal-"));
    int timeoutMs = (int) Math.min(Integer.MAX_VALUE, ms.timeout().toMillis());
    String login = ms.loginUrl().endsWith("/") ? ms.loginUrl().substring(0, ms.loginUrl().length() - 1)
        : ms.loginUrl();
    try {
      this.app = ConfidentialClientApplication.builder(ms.clientId(), credential(ms))
          .authority(login + "/" + ms.tenantId() + "/")
          .instanceDiscovery(false)
          .executorService(executor)
          .connectTimeoutForDefaultHttpClient(timeoutMs)
          .readTimeoutForDefaultHttpClient(timeoutMs)
          .sslSocketFactory(TrustStores.clientContext(ms.caFile()).getSocketFactory())
          .disableInternalRetries()
          .logPii(false)
          .build();
    } catch (java.net.MalformedURLException | IllegalArgumentException e) {
      executor.shutdownNow();
      throw new ConfigException("microsoft.login-url", "not a valid https authority with microsoft.tenant-id: "
          + e.getMessage());
    } catch (IOException | GeneralSecurityException | RuntimeException e) {
      executor.shutdownNow();
      throw e;
    }
    this.parameters = ClientCredentialParameters.builder(Set.of(ms.scope())).skipCache(true).build();
  }

  private static IClientCredential credential(Settings.Microsoft ms) throws IOException, GeneralSecurityException {
    if (ms.clientSecret() != null) {
      return ClientCredentialFactory.createFromSecret(ms.clientSecret().reveal());
    }
    Settings.Certificate c = ms.certificate();
    if (c == null) {
      throw new ConfigException("microsoft.client-secret", "set microsoft.client-secret or microsoft.certificate");
    }
    String name = c.file().getFileName().toString().toLowerCase(java.util.Locale.ROOT);
    if (name.endsWith(".p12") || name.endsWith(".pfx") || isPkcs12(c.file())) {
      return fromPkcs12(c.file(), c.password() == null ? new char[0] : c.password().reveal().toCharArray());
    }
    List<X509Certificate> certs = Pem.readCertificates(c.file());
    if (certs.isEmpty()) {
      throw new ConfigException("microsoft.certificate.file", c.file() + " holds no PEM certificate");
    }
    PrivateKey key = Pem.readPrivateKey(c.keyFile() != null ? c.keyFile() : c.file());
    if (key == null) {
      throw new ConfigException("microsoft.certificate.key-file", "no PEM private key in "
          + (c.keyFile() != null ? c.keyFile() : c.file()) + " (encrypted PEM keys are not supported)");
    }
    return ClientCredentialFactory.createFromCertificate(key, certs.get(0));
  }

  // PKCS#12 is DER: it starts with a SEQUENCE (0x30); PEM starts with text
  private static boolean isPkcs12(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      return in.read() == 0x30;
    }
  }

  private static IClientCredential fromPkcs12(Path file, char[] password) throws IOException, GeneralSecurityException {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(file)) {
      ks.load(in, password);
    } catch (IOException e) {
      throw new ConfigException("microsoft.certificate.password", "cannot open " + file
          + ": wrong password or not a PKCS#12 file");
    }
    for (String alias : Collections.list(ks.aliases())) {
      if (ks.isKeyEntry(alias)) {
        Key key = ks.getKey(alias, password);
        if (key instanceof PrivateKey pk && ks.getCertificate(alias) instanceof X509Certificate cert) {
          return ClientCredentialFactory.createFromCertificate(pk, cert);
        }
      }
    }
    throw new ConfigException("microsoft.certificate.file", file + " holds no private key with a certificate");
  }

  @Override
  public CompletableFuture<AccessToken> fetch() {
    CompletableFuture<AccessToken> result = new CompletableFuture<>();
    CompletableFuture<com.microsoft.aad.msal4j.IAuthenticationResult> call;
    try {
      call = app.acquireToken(parameters);
    } catch (RuntimeException e) {
      result.completeExceptionally(map(e));
      return result;
    }
    // the HTTP timeouts bound each request; this bounds the whole call (msal cannot be interrupted)
    call.orTimeout(timeout.toMillis() * 2 + 5_000, TimeUnit.MILLISECONDS).whenComplete((r, e) -> {
      if (e != null) {
        result.completeExceptionally(map(e));
      } else {
        result.complete(new AccessToken(r.accessToken(), r.expiresOnDate().toInstant()));
      }
    });
    return result;
  }

  /** Turns whatever msal4j threw into a classified, secret-free TokenException. */
  static TokenException map(Throwable error) {
    Throwable e = error;
    while ((e instanceof CompletionException || e instanceof java.util.concurrent.ExecutionException)
        && e.getCause() != null) {
      e = e.getCause();
    }
    if (e instanceof TokenException t) {
      return t;
    }
    if (e instanceof MsalServiceException mse) {
      int status = mse.statusCode() == null ? 0 : mse.statusCode();
      String aadsts = aadsts(mse.getMessage());
      String code = aadsts == null ? null : aadsts.substring("AADSTS".length());
      String hint = code == null ? null : HINTS.get(code);
      Kind kind = status >= 500 || status == 429 ? Kind.TRANSIENT
          : status >= 400 || hint != null ? Kind.CONFIGURATION : Kind.TRANSIENT;
      String msg = firstLine(mse.getMessage());
      return new TokenException((status > 0 ? "HTTP " + status + " " : "") + mse.errorCode() + ": " + msg,
          aadsts, mse.errorCode(), status, kind, hint, null);
    }
    Throwable cause = e;
    for (Throwable c = e; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (c instanceof TimeoutException || c instanceof SocketTimeoutException) {
        return new TokenException("the token endpoint did not answer in time", null, "timeout", 0,
            Kind.TRANSIENT, null, null);
      }
      if (c instanceof SSLException) {
        return new TokenException("TLS to the token endpoint failed: " + firstLine(c.getMessage()), null, "tls",
            0, Kind.CONFIGURATION, "the token endpoint's certificate is not trusted; if a TLS-inspecting proxy"
            + " or private CA is in the way, add its CA to microsoft.ca-file", null);
      }
      if (c instanceof UnknownHostException || c instanceof ConnectException) {
        return new TokenException("cannot reach the token endpoint: " + firstLine(c.toString()), null, "network",
            0, Kind.TRANSIENT, null, null);
      }
      cause = c;
    }
    // msal client-side errors and anything else: transient, named, without the original's text
    // (msal's messages do not contain secrets, but stay safe)
    return new TokenException("token request failed: " + e.getClass().getSimpleName()
        + (cause != e ? " (" + cause.getClass().getSimpleName() + ")" : ""), null,
        e instanceof com.microsoft.aad.msal4j.MsalException me ? me.errorCode() : null, 0, Kind.TRANSIENT, null,
        null);
  }

  static String aadsts(String message) {
    if (message == null) {
      return null;
    }
    Matcher m = AADSTS.matcher(message);
    return m.find() ? "AADSTS" + m.group(1) : null;
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    String line = s.strip().split("\\R", 2)[0];
    return line.length() > 300 ? line.substring(0, 300) + "…" : line;
  }

  private static java.util.concurrent.ThreadFactory daemonThreads(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + n.getAndIncrement());
      t.setDaemon(true);
      return t;
    };
  }

  @Override
  public void close() {
    executor.shutdownNow();
  }
}
