package io.relay365.sandbox;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.Objects;

/**
 * Options of a {@link Sandbox}: plain mutable fields with fluent setters. Only {@link #dataDir} is required.
 *
 * <p>The tenant and client IDs are fixed GUIDs so that a relay configuration written once keeps working
 * across sandbox restarts. The client secret is random; {@link Sandbox#start} stores it in
 * {@code dataDir/client-secret} (mode 0600) and reuses the stored one unless a secret was set explicitly.
 */
public final class SandboxOptions {
  /** Fixed tenant GUID of the sandbox (any value would do; fixed so configurations survive restarts). */
  public static final String DEFAULT_TENANT_ID = "5a3c1f0e-7d2b-4e8a-9c61-0b4f2d8e9a17";
  /** Fixed application (client) GUID of the sandbox's app registration. */
  public static final String DEFAULT_CLIENT_ID = "8e1d4c2a-3b5f-4a69-8d07-6c2e9f1b3a54";
  /** Verified domain of the sandbox tenant: accepted in the token URL instead of the tenant GUID. */
  public static final String DEFAULT_TENANT_DOMAIN = "sandbox.onmicrosoft.com";

  private Path dataDir;
  private String host = "127.0.0.1";
  private int port = 0;
  private int graphPort = 0;
  private String tenantId = DEFAULT_TENANT_ID;
  private String tenantDomain = DEFAULT_TENANT_DOMAIN;
  private String clientId = DEFAULT_CLIENT_ID;
  private String clientSecret;            // null = reuse dataDir/client-secret or generate one
  private Duration tokenLifetime = Duration.ofSeconds(3599);
  private int smtpPort = 0;

  public Path dataDir() {
    return dataDir;
  }

  public SandboxOptions dataDir(Path dataDir) {
    this.dataDir = dataDir;
    return this;
  }

  public String host() {
    return host;
  }

  /** Address to bind. URLs use it too (a wildcard address is replaced by 127.0.0.1 in URLs). */
  public SandboxOptions host(String host) {
    this.host = Objects.requireNonNull(host);
    return this;
  }

  public int port() {
    return port;
  }

  /** 0 = ephemeral; set a previous sandbox's port to restart "the same" service. */
  public SandboxOptions port(int port) {
    this.port = port;
    return this;
  }

  public int graphPort() {
    return graphPort;
  }

  /**
   * Port of the Graph listener (its own origin, as graph.microsoft.com is a host of its own); 0 =
   * ephemeral. Set a previous sandbox's Graph port to restart "the same" service.
   */
  public SandboxOptions graphPort(int graphPort) {
    this.graphPort = graphPort;
    return this;
  }

  public String tenantId() {
    return tenantId;
  }

  public SandboxOptions tenantId(String tenantId) {
    this.tenantId = Objects.requireNonNull(tenantId);
    return this;
  }

  public String tenantDomain() {
    return tenantDomain;
  }

  public SandboxOptions tenantDomain(String tenantDomain) {
    this.tenantDomain = Objects.requireNonNull(tenantDomain);
    return this;
  }

  public String clientId() {
    return clientId;
  }

  public SandboxOptions clientId(String clientId) {
    this.clientId = Objects.requireNonNull(clientId);
    return this;
  }

  /** The secret set explicitly, or null if the sandbox should reuse the stored one or generate one. */
  public String clientSecret() {
    return clientSecret;
  }

  public SandboxOptions clientSecret(String clientSecret) {
    this.clientSecret = clientSecret;
    return this;
  }

  public Duration tokenLifetime() {
    return tokenLifetime;
  }

  public SandboxOptions tokenLifetime(Duration tokenLifetime) {
    this.tokenLifetime = Objects.requireNonNull(tokenLifetime);
    return this;
  }

  public int smtpPort() {
    return smtpPort;
  }

  /** Port of the SMTP submission endpoint (plain TCP + STARTTLS); 0 = ephemeral. */
  public SandboxOptions smtpPort(int smtpPort) {
    this.smtpPort = smtpPort;
    return this;
  }

  /** A secret shaped like an Entra one (40 characters, 3-character prefix plus "~"). */
  static String generateSecret() {
    byte[] b = new byte[27];
    new SecureRandom().nextBytes(b);
    String s = Base64.getUrlEncoder().withoutPadding().encodeToString(b).replace('-', '.').replace('_', '~');
    return "sbx8Q~" + s.substring(0, 34);
  }
}
