package io.relay365.sandbox;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/**
 * Fault injection for a running {@link Sandbox}: thread-safe, changeable at any time (from Java, or as JSON
 * through {@code POST /_sandbox/faults}; {@code GET} returns {@link #toJson()}). Counted faults apply to
 * the next {@code count} matching requests and then switch themselves off; setting one again replaces it.
 *
 * <p>Order of evaluation on EWS: {@link #ewsHttpStatus} (front end, before anything) → latency → bearer
 * token checks (401) → {@link #ewsDisabled} (403) → SOAP parsing and impersonation checks →
 * {@link #denyMailbox} (403) → {@link #unknownMailbox} → {@link #maxConcurrentPerMailbox} →
 * {@link #ewsBusy} → {@link #ewsError} → CreateItem validation. ewsBusy and ewsError hit CreateItem only.
 * On the token endpoint: tokenLatency → {@link #tokenServerError} → {@link #tokenError} → normal validation.
 */
public final class Faults {
  /** EWS concurrency budget per mailbox in Exchange Online (EWSMaxConcurrency, microsoft-wire.md §5). */
  public static final int DEFAULT_MAX_CONCURRENT = 27;
  /** Exchange Online's default MaxSendSize, 35 MB, measured on the encoded (base64) content (§5). */
  public static final long DEFAULT_MAX_MESSAGE_SIZE = 35L * 1024 * 1024;

  /** ResponseCodes answered as an HTTP 500 SOAP fault (§2.5) by {@link #ewsError(String, int)}; others as 200 Error. */
  static final Set<String> SOAP_FAULT_CODES = Set.of("ErrorAccessDenied", "ErrorImpersonateUserDenied",
      "ErrorNonExistentMailbox", "ErrorInvalidExchangeImpersonationHeaderData", "ErrorSchemaValidation",
      "ErrorServerBusy", "ErrorExceededConnectionCount", "ErrorInvalidRequest", "ErrorAccountDisabled",
      "ErrorInvalidLicense");

  record Counted<T>(T value, int remaining) {}

  record Busy(long backOffMillis, boolean asSoapFault) {}

  record EwsError(String responseCode, boolean asSoapFault) {}

  record TokenServerError(int status, Integer retryAfterSeconds) {}

  private Counted<Busy> busy;
  private Counted<EwsError> ewsError;
  private Counted<Integer> ewsHttpStatus;
  private Duration latency = Duration.ZERO;
  private Duration tokenLatency = Duration.ZERO;
  private Counted<String> tokenError;
  private Counted<TokenServerError> tokenServerError;
  private Duration tokenLifetime;            // null = SandboxOptions.tokenLifetime
  private final Set<String> deniedMailboxes = new TreeSet<>();
  private Set<String> rbacScope;             // null = permissions come from Entra consent (roles in the token)
  private final Set<String> unknownMailboxes = new TreeSet<>();
  private boolean ewsDisabled;
  private List<String> rolesInToken;         // null = the defaults per resource, see roles(audience)
  private int maxConcurrentPerMailbox = DEFAULT_MAX_CONCURRENT;
  private long maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE;
  private final GraphFaults graph = new GraphFaults();
  private final SmtpFaults smtp = new SmtpFaults();

  /** The next {@code count} CreateItem calls answer ErrorServerBusy with BackOffMilliseconds. */
  public synchronized Faults ewsBusy(int count, long backOffMillis, boolean asSoapFault) {
    busy = count > 0 ? new Counted<>(new Busy(backOffMillis, asSoapFault), count) : null;
    return this;
  }

  /**
   * The next {@code count} CreateItem calls answer {@code responseCode}: as a 500 SOAP fault for the
   * codes Exchange raises before the operation runs (ErrorAccessDenied, ErrorImpersonateUserDenied,
   * ErrorNonExistentMailbox, ...; see SOAP_FAULT_CODES), otherwise as a 200 ResponseClass="Error".
   */
  public Faults ewsError(String responseCode, int count) {
    return ewsError(responseCode, count, SOAP_FAULT_CODES.contains(responseCode));
  }

  /** As {@link #ewsError(String, int)} with the reply shape chosen explicitly. */
  public synchronized Faults ewsError(String responseCode, int count, boolean asSoapFault) {
    ewsError = count > 0 ? new Counted<>(new EwsError(responseCode, asSoapFault), count) : null;
    return this;
  }

  /** The next {@code count} EWS requests get this HTTP status with an empty body (e.g. 503, 403). */
  public synchronized Faults ewsHttpStatus(int status, int count) {
    ewsHttpStatus = count > 0 ? new Counted<>(status, count) : null;
    return this;
  }

  /** Delay before every EWS reply. */
  public synchronized Faults latency(Duration ewsLatency) {
    latency = ewsLatency == null ? Duration.ZERO : ewsLatency;
    return this;
  }

  /** Delay before every token reply. */
  public synchronized Faults tokenLatency(Duration d) {
    tokenLatency = d == null ? Duration.ZERO : d;
    return this;
  }

  /**
   * The next {@code count} token requests fail with this AADSTS code ("7000215" or "AADSTS7000215"), with
   * the HTTP status and {@code error} of microsoft-wire.md §1.4.
   */
  public synchronized Faults tokenError(String aadstsCode, int count) {
    String code = aadstsCode.toUpperCase(Locale.ROOT).replace("AADSTS", "").trim();
    if (!AadError.known(code)) {
      throw new IllegalArgumentException("unknown AADSTS code " + aadstsCode + "; known: " + AadError.knownCodes());
    }
    tokenError = count > 0 ? new Counted<>(code, count) : null;
    return this;
  }

  /** The next {@code count} token requests get a 5xx, with {@code Retry-After} if not null. */
  public synchronized Faults tokenServerError(int status, Integer retryAfterSeconds, int count) {
    tokenServerError = count > 0 ? new Counted<>(new TokenServerError(status, retryAfterSeconds), count) : null;
    return this;
  }

  /** Lifetime of tokens issued from now on (null = the option's value). */
  public synchronized Faults tokenLifetime(Duration d) {
    tokenLifetime = d;
    return this;
  }

  /**
   * EWS answers 403 (empty body) for this mailbox, like an Application Access Policy that excludes it;
   * Graph answers 403 with the [RAOP] body (microsoft-wire.md §3).
   */
  /**
   * RBAC for Applications instead of Entra consent: the app's permissions are role assignments in Exchange
   * scoped to these mailboxes, so its tokens carry no roles and EWS grants exactly these mailboxes
   * (null = off). Microsoft: https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac
   */
  public synchronized Faults rbacScope(Set<String> mailboxes) {
    if (mailboxes == null) {
      rbacScope = null;
    } else {
      rbacScope = new TreeSet<>();
      mailboxes.forEach(m -> rbacScope.add(m.toLowerCase(Locale.ROOT)));
    }
    return this;
  }

  /** Whether RBAC for Applications is on (see {@link #rbacScope}). */
  synchronized boolean rbac() {
    return rbacScope != null;
  }

  /** With RBAC for Applications: whether a role assignment's scope includes the mailbox. */
  synchronized boolean rbacGrants(String mailbox) {
    return rbacScope != null && rbacScope.contains(mailbox.toLowerCase(Locale.ROOT));
  }

  public synchronized Faults denyMailbox(String addr) {
    deniedMailboxes.add(addr.toLowerCase(Locale.ROOT));
    return this;
  }

  /** EWS answers ErrorNonExistentMailbox (SOAP fault) when this mailbox is impersonated; Graph 404 ErrorInvalidUser. */
  public synchronized Faults unknownMailbox(String addr) {
    unknownMailboxes.add(addr.toLowerCase(Locale.ROOT));
    return this;
  }

  /** 403 (empty body) for every authenticated EWS request: EWSEnabled=False or AppID not on the allow list. */
  public synchronized Faults ewsDisabled(boolean disabled) {
    ewsDisabled = disabled;
    return this;
  }

  /** The {@code roles} claim of tokens issued from now on, whatever the resource (null = the defaults, see roles(String)). */
  public synchronized Faults rolesInToken(List<String> roles) {
    rolesInToken = roles == null ? null : List.copyOf(roles);
    return this;
  }

  /** Concurrent EWS requests per impersonated mailbox above which ErrorExceededConnectionCount is answered. */
  public synchronized Faults maxConcurrentPerMailbox(int max) {
    maxConcurrentPerMailbox = max;
    return this;
  }

  /** Largest accepted message, in bytes of MIME (ErrorMessageSizeExceeded above it); default 35 MB. */
  public synchronized Faults maxMessageSize(long mimeBytes) {
    maxMessageSize = mimeBytes;
    return this;
  }

  /** Faults of the sandbox's Microsoft Graph (JSON key "graph"). */
  public GraphFaults graph() {
    return graph;
  }

  /** Clears every fault. */
  public synchronized Faults reset() {
    graph.reset();
    busy = null;
    ewsError = null;
    ewsHttpStatus = null;
    latency = Duration.ZERO;
    tokenLatency = Duration.ZERO;
    tokenError = null;
    tokenServerError = null;
    tokenLifetime = null;
    deniedMailboxes.clear();
    rbacScope = null;
    unknownMailboxes.clear();
    ewsDisabled = false;
    rolesInToken = null;
    maxConcurrentPerMailbox = DEFAULT_MAX_CONCURRENT;
    maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE;
    smtp.reset();
    return this;
  }

  /** The faults of the SMTP submission endpoint (JSON: the "smtp" object). */
  public SmtpFaults smtp() {
    return smtp;
  }

  // ---- used by the endpoints -------------------------------------------------------------------

  synchronized Integer takeEwsHttpStatus() {
    Integer v = ewsHttpStatus == null ? null : ewsHttpStatus.value();
    ewsHttpStatus = decrement(ewsHttpStatus);
    return v;
  }

  synchronized Busy takeBusy() {
    Busy v = busy == null ? null : busy.value();
    busy = decrement(busy);
    return v;
  }

  synchronized EwsError takeEwsError() {
    EwsError v = ewsError == null ? null : ewsError.value();
    ewsError = decrement(ewsError);
    return v;
  }

  synchronized String takeTokenError() {
    String v = tokenError == null ? null : tokenError.value();
    tokenError = decrement(tokenError);
    return v;
  }

  synchronized TokenServerError takeTokenServerError() {
    TokenServerError v = tokenServerError == null ? null : tokenServerError.value();
    tokenServerError = decrement(tokenServerError);
    return v;
  }

  synchronized Duration latency() {
    return latency;
  }

  synchronized Duration tokenLatency() {
    return tokenLatency;
  }

  synchronized Duration tokenLifetimeOr(Duration dflt) {
    return tokenLifetime == null ? dflt : tokenLifetime;
  }

  synchronized boolean isDenied(String mailbox) {
    return deniedMailboxes.contains(mailbox.toLowerCase(Locale.ROOT));
  }

  synchronized boolean isUnknown(String mailbox) {
    return unknownMailboxes.contains(mailbox.toLowerCase(Locale.ROOT));
  }

  synchronized boolean isEwsDisabled() {
    return ewsDisabled;
  }

  /**
   * The roles claim for a token of {@code audience}. The sandbox's app registration has, by default,
   * every application permission one of relay365's transports needs, each under the API that offers it
   * (microsoft-wire.md §1.3, §3, §4): Office 365 Exchange Online grants full_access_as_app (EWS) and
   * SMTP.SendAsApp (SMTP submission); Microsoft Graph grants Mail.Send and Mail.ReadWrite (the
   * large-message path). {@link #rolesInToken} replaces them for every resource.
   */
  synchronized List<String> roles(String audience) {
    if (rolesInToken != null) {
      return rolesInToken;
    }
    if (rbacScope != null) {
      return List.of(); // no Entra consent: Exchange's role assignments never show in the token
    }
    return TokenEndpoint.isGraphAudience(audience) ? GRAPH_ROLES : EXCHANGE_ROLES;
  }

  static final List<String> EXCHANGE_ROLES = List.of("full_access_as_app", "SMTP.SendAsApp");
  static final List<String> GRAPH_ROLES = List.of("Mail.Send", "Mail.ReadWrite");

  synchronized int maxConcurrent() {
    return maxConcurrentPerMailbox;
  }

  synchronized long maxMessageSize() {
    return maxMessageSize;
  }

  private static <T> Counted<T> decrement(Counted<T> c) {
    return c == null || c.remaining() <= 1 ? null : new Counted<>(c.value(), c.remaining() - 1);
  }

  // ---- JSON form (control endpoint) ------------------------------------------------------------

  /** The current state, in the same shape {@link #apply(JsonObject)} accepts. */
  public synchronized JsonObject toJson() {
    JsonObject j = new JsonObject();
    if (busy != null) {
      j.put("ewsBusy", new JsonObject().put("count", busy.remaining())
          .put("backOffMillis", busy.value().backOffMillis()).put("asSoapFault", busy.value().asSoapFault()));
    }
    if (ewsError != null) {
      j.put("ewsError", new JsonObject().put("responseCode", ewsError.value().responseCode())
          .put("count", ewsError.remaining()).put("asSoapFault", ewsError.value().asSoapFault()));
    }
    if (ewsHttpStatus != null) {
      j.put("ewsHttpStatus", new JsonObject().put("status", ewsHttpStatus.value())
          .put("count", ewsHttpStatus.remaining()));
    }
    j.put("latencyMillis", latency.toMillis());
    j.put("tokenLatencyMillis", tokenLatency.toMillis());
    if (tokenError != null) {
      j.put("tokenError", new JsonObject().put("code", tokenError.value()).put("count", tokenError.remaining()));
    }
    if (tokenServerError != null) {
      j.put("tokenServerError", new JsonObject().put("status", tokenServerError.value().status())
          .put("retryAfterSeconds", tokenServerError.value().retryAfterSeconds())
          .put("count", tokenServerError.remaining()));
    }
    if (tokenLifetime != null) {
      j.put("tokenLifetimeSeconds", tokenLifetime.toSeconds());
    }
    j.put("denyMailbox", new JsonArray(new ArrayList<>(deniedMailboxes)));
    if (rbacScope != null) {
      j.put("rbacScope", new JsonArray(new ArrayList<>(rbacScope)));
    }
    j.put("unknownMailbox", new JsonArray(new ArrayList<>(unknownMailboxes)));
    j.put("ewsDisabled", ewsDisabled);
    if (rolesInToken != null) {
      j.put("rolesInToken", new JsonArray(rolesInToken));
    }
    j.put("maxConcurrentPerMailbox", maxConcurrentPerMailbox);
    j.put("maxMessageSize", maxMessageSize);
    j.put("graph", graph.toJson());
    j.put("smtp", smtp.toJson());
    return j;
  }

  /**
   * Applies the faults present in {@code j} (absent keys are left unchanged; {@code "reset": true} first
   * clears everything). Example: {@code {"reset":true,"ewsBusy":{"count":2,"backOffMillis":500,"asSoapFault":true}}}.
   */
  public synchronized Faults apply(JsonObject j) {
    if (j.getBoolean("reset", false)) {
      reset();
    }
    JsonObject o;
    if ((o = j.getJsonObject("ewsBusy")) != null) {
      ewsBusy(o.getInteger("count", 1), o.getLong("backOffMillis", 30_000L), o.getBoolean("asSoapFault", true));
    }
    if ((o = j.getJsonObject("ewsError")) != null) {
      String code = o.getString("responseCode");
      Boolean soap = o.getBoolean("asSoapFault");
      ewsError(code, o.getInteger("count", 1), soap == null ? SOAP_FAULT_CODES.contains(code) : soap);
    }
    if ((o = j.getJsonObject("ewsHttpStatus")) != null) {
      ewsHttpStatus(o.getInteger("status"), o.getInteger("count", 1));
    }
    if (j.containsKey("latencyMillis")) {
      latency(Duration.ofMillis(j.getLong("latencyMillis")));
    }
    if (j.containsKey("tokenLatencyMillis")) {
      tokenLatency(Duration.ofMillis(j.getLong("tokenLatencyMillis")));
    }
    if ((o = j.getJsonObject("tokenError")) != null) {
      tokenError(String.valueOf(o.getValue("code")), o.getInteger("count", 1));
    }
    if ((o = j.getJsonObject("tokenServerError")) != null) {
      tokenServerError(o.getInteger("status", 503), o.getInteger("retryAfterSeconds"), o.getInteger("count", 1));
    }
    if (j.containsKey("tokenLifetimeSeconds")) {
      Long s = j.getLong("tokenLifetimeSeconds");
      tokenLifetime(s == null ? null : Duration.ofSeconds(s));
    }
    JsonArray a;
    if (j.containsKey("rbacScope")) {
      JsonArray r = j.getJsonArray("rbacScope");
      Set<String> scope = null;
      if (r != null) {
        scope = new TreeSet<>();
        for (Object x : r) {
          scope.add(String.valueOf(x));
        }
      }
      rbacScope(scope);
    }
    if ((a = j.getJsonArray("denyMailbox")) != null) {
      a.forEach(x -> denyMailbox(String.valueOf(x)));
    }
    if ((a = j.getJsonArray("unknownMailbox")) != null) {
      a.forEach(x -> unknownMailbox(String.valueOf(x)));
    }
    if (j.containsKey("ewsDisabled")) {
      ewsDisabled(j.getBoolean("ewsDisabled"));
    }
    if (j.containsKey("rolesInToken")) {
      JsonArray r = j.getJsonArray("rolesInToken");
      List<String> roles = null;
      if (r != null) {
        roles = new ArrayList<>();
        for (Object x : r) {
          roles.add(String.valueOf(x));
        }
      }
      rolesInToken(roles);
    }
    if (j.containsKey("maxConcurrentPerMailbox")) {
      maxConcurrentPerMailbox(j.getInteger("maxConcurrentPerMailbox"));
    }
    if (j.containsKey("maxMessageSize")) {
      maxMessageSize(j.getLong("maxMessageSize"));
    }
    if ((o = j.getJsonObject("graph")) != null) {
      graph.apply(o);
    }
    if ((o = j.getJsonObject("smtp")) != null) {
      smtp.apply(o);
    }
    return this;
  }
}
