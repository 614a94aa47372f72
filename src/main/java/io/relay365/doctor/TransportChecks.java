package io.relay365.doctor;

/**
 * What doctor asks of the service behind delivery.transport, after the token: whether the service
 * admits the app at all (the gate), then, for each mailbox, whether the app may send as it. Every call
 * must be harmless: it reads or authenticates, never sends.
 */
interface TransportChecks extends AutoCloseable {

  /** The check id of the gate ("ews", "graph", "smtp"), also used for it when skipped. */
  String id();

  /** A person's name for the gate, e.g. "EWS access". */
  String title();

  /** The application permission (the token's roles claim) without which nothing can be sent. */
  String role();

  /**
   * The token audience this transport needs, when it is fixed by its own settings (Graph: graph.url);
   * null to take it from microsoft.scope.
   */
  default String resource() {
    return null;
  }

  /** The API that offers {@link #role()} in the portal's "Add a permission" dialog. */
  default String api() {
    return "Office 365 Exchange Online";
  }

  /**
   * Permissions only some messages need (e.g. Graph's Mail.ReadWrite for large ones), read from the
   * token: warnings that name the fix, never failures. Called before {@link #gate}.
   */
  default java.util.List<Check> optionalPermissions(String token) {
    return java.util.List.of();
  }

  /**
   * Where the README says how to add {@link #role()} and grant consent, e.g. "steps 3–4" (section 2, for
   * EWS); the transports that replace EWS have their steps under "Moving off EWS".
   */
  default String consentSteps() {
    return "steps 3–4";
  }

  /** The section-2 step number of {@link #consentSteps()} for the JSON report; null when not in section 2. */
  default Integer consentStep() {
    return 3;
  }

  /** Whether the service lets the app in at all, before any mailbox is involved. */
  Check gate(String token, boolean permitted);

  /** Whether the app may send as {@code mailbox}: granted, denied by a policy, no such mailbox, … */
  Check mailbox(String token, String mailbox);

  @Override
  void close();
}
