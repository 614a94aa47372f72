package io.relay365.doctor;

import io.relay365.config.Settings;
import java.util.List;
import javax.net.ssl.SSLContext;

/**
 * Doctor's Microsoft Graph part (delivery.transport: graph): whether Graph accepts the app's token,
 * whether the token also carries Mail.ReadWrite (needed only for messages above graph.max-request-size),
 * and, for each mailbox, what Test-ApplicationAccessPolicy would say: granted, denied by a policy
 * (403 [RAOP]), or no such mailbox (404).
 *
 * <p>GUESS (the choice of probe calls; neither is documented as a permission test):
 * <ul>
 *   <li>gate: {@code GET /v1.0/organization}. An app with only mail permissions gets 403
 *       Authorization_RequestDenied, which still proves that Graph validated the token (a bad token
 *       gets 401 InvalidAuthenticationToken first);
 *   <li>mailbox: {@code POST /users/{id}/sendMail} with a body that is not base64. Graph resolves the
 *       mailbox and applies Application Access Policies (403 [RAOP]) or answers 404 before it decodes the
 *       body, so a 400 ErrorMimeContentInvalidBase64String means "Mail.Send reaches this mailbox" and
 *       nothing can be sent. It needs only Mail.Send, the permission delivery needs;
 *   <li>and with Mail.ReadWrite, {@code GET /users/{id}/mailFolders/drafts}, read-only, for the draft path
 *       (RBAC for Applications can scope Mail.Send and Mail.ReadWrite differently).
 * </ul>
 */
final class GraphChecks implements TransportChecks {
  static final String ROLE = "Mail.Send";
  static final String LARGE_ROLE = "Mail.ReadWrite";

  private final Settings settings;
  private final GraphProbe probe;
  private boolean readWrite;

  GraphChecks(Settings settings, SSLContext tls) {
    this.settings = settings;
    this.probe = new GraphProbe(settings.graph(), tls);
  }

  @Override
  public String id() {
    return "graph";
  }

  @Override
  public String title() {
    return "Graph access";
  }

  @Override
  public String role() {
    return ROLE;
  }

  /** Graph accepts only Graph tokens: a microsoft.scope left over from EWS is caught here. */
  @Override
  public String resource() {
    return settings.graph().url();
  }

  @Override
  public String api() {
    return "Microsoft Graph";
  }

  @Override
  public void close() {
    probe.close();
  }

  /** Mail.ReadWrite: a warning that names the fix when missing, as only large messages need it. */
  @Override
  public List<Check> optionalPermissions(String token) {
    TokenClaims c;
    try {
      c = TokenClaims.decode(token);
    } catch (RuntimeException e) {
      return List.of();
    }
    readWrite = c.roles().contains(LARGE_ROLE);
    if (readWrite) {
      return List.of(Check.ok("permissions:large", "large messages", "roles include " + LARGE_ROLE
          + ": messages over graph.max-request-size (" + size() + ") go as a draft with uploaded attachments"));
    }
    return List.of(Check.warn("permissions:large", "large messages", "the token has no " + LARGE_ROLE
        + ": messages over graph.max-request-size (" + size() + ", e.g. multi-page scans) cannot be sent and"
        + " stay queued", "add Microsoft Graph → Application permissions → " + LARGE_ROLE + " and press"
        + " \"Grant admin consent\" (" + steps("1–2") + "); scope it to the same mailboxes as " + ROLE + " (" + steps("3")
        + ")", null));
  }

  /** Where the README explains Graph's permissions and scoping: "Moving off EWS", Graph step(s) {@code n}. */
  private static String steps(String n) {
    return "README \"Moving off EWS\", Graph step" + (n.contains("–") ? "s " : " ") + n;
  }

  @Override
  public String consentSteps() {
    return steps("1–2");
  }

  @Override
  public Integer consentStep() {
    return null;
  }

  @Override
  public Check gate(String token, boolean permitted) {
    GraphProbe.Result g = probe.organization(token);
    String url = settings.graph().url();
    if (g.status() == 200 || (g.status() == 403 && "Authorization_RequestDenied".equals(g.code()))) {
      return Check.ok(id(), title(), "Graph at " + url + " accepts this app's token");
    }
    return http(id(), title(), g, permitted);
  }

  @Override
  public Check mailbox(String token, String m) {
    String id = "mailbox:" + m;
    String title = "mailbox " + m;
    GraphProbe.Result res = probe.sendMail(token, m);
    if (res.status() == 400 || res.status() == 202) {
      if (!readWrite) {
        return Check.ok(id, title, "granted: the app may send as this mailbox (" + ROLE + ")");
      }
      GraphProbe.Result d = probe.drafts(token, m);
      if (d.status() == 200) {
        return Check.ok(id, title, "granted: the app may send as this mailbox (" + ROLE + ") and create drafts for"
            + " large messages (" + LARGE_ROLE + ")");
      }
      return Check.warn(id, title, "the app may send as this mailbox, but " + LARGE_ROLE + " does not reach it"
          + " (HTTP " + d.status() + codeSuffix(d) + "): its messages over graph.max-request-size will stay"
          + " queued", "include the mailbox in the scope of " + LARGE_ROLE + " as for " + ROLE + ": the"
          + " Application Access Policy's group (step 5), or New-ManagementRoleAssignment -App "
          + settings.microsoft().clientId() + " -Role \"Application Mail.ReadWrite\" -CustomResourceScope …"
          + " (" + steps("3") + ")", 5);
    }
    if (res.status() == 403 && res.message() != null && res.message().contains("[RAOP]")) {
      return Check.fail(id, title, "denied by an Application Access Policy that does not include this mailbox"
          + " (HTTP 403 ErrorAccessDenied [RAOP])",
          "add the mailbox to the policy's group (New-ApplicationAccessPolicy -PolicyScopeGroupId), check with"
              + " Test-ApplicationAccessPolicy -AppId " + settings.microsoft().clientId() + " -Identity " + m
              + " (step 5); changes take 30–60 minutes", 5);
    }
    if (res.status() == 403) {
      return Check.fail(id, title, "the app may not send as this mailbox (HTTP 403" + codeSuffix(res) + "): "
          + ROLE + " has no admin consent, or an RBAC for Applications scope excludes the mailbox",
          "grant " + ROLE + " (Microsoft Graph, application) with admin consent (" + steps("1–2") + "); with RBAC for"
              + " Applications, include the mailbox in the scope of New-ManagementRoleAssignment -App "
              + settings.microsoft().clientId() + " -Role \"Application Mail.Send\" (" + steps("3") + ")", null);
    }
    if (res.status() == 404 && res.code() != null && res.code().matches("ErrorInvalidUser|ErrorNonExistentMailbox"
        + "|MailboxNotEnabledForRESTAPI")) {
      return Check.fail(id, title, "no such mailbox: Exchange Online has no mailbox with this address (" + res.code()
          + ")", "use the address of an existing, licensed or shared mailbox, or map the device's address to one"
          + " with sender.map (step 7)", 7);
    }
    return http(id, title, res, true);
  }

  /** HTTP statuses and local failures, shared by the gate and the mailbox checks. */
  private Check http(String id, String title, GraphProbe.Result res, boolean permitted) {
    String url = settings.graph().url();
    String msg = res.message() == null ? "" : ": " + res.message();
    if (res.status() == 401) {
      if (res.message() != null && res.message().contains("audience")) {
        return Check.fail(id, title, "Graph rejected the token: it is not a Graph token (HTTP 401" + msg + ")",
            "remove microsoft.scope (with delivery.transport: graph it is derived from graph.url) or set it to "
                + url + "/.default", null);
      }
      if (!permitted || (res.message() != null && res.message().contains("roles"))) {
        return Check.fail(id, title, "Graph says the token carries no permission (HTTP 401" + msg + ")",
            "add Microsoft Graph → Application permissions → " + ROLE + " and grant admin consent (" + steps("1–2")
                + ")", null);
      }
      return Check.fail(id, title, "Graph rejected the token (HTTP 401" + msg + ")",
          "microsoft.scope must be graph.url + /.default (or unset), and microsoft.login-url and graph.url must"
              + " belong to the same cloud (step 1)", 1);
    }
    if (res.status() == 404 || res.status() == 400 || res.status() == 405) {
      return Check.fail(id, title, "no Graph API at " + url + " (HTTP " + res.status() + msg + ")",
          "check graph.url (default https://graph.microsoft.com; an origin, without /v1.0)", null);
    }
    if (res.status() > 0) {
      return Check.fail(id, title, "Graph answered HTTP " + res.status() + codeSuffix(res), "try again later; if it"
          + " persists, check https://status.office365.com", null);
    }
    return Explain.unanswered(id, title, "Graph", url, res.error());
  }

  private String size() {
    long b = settings.graph().maxRequestSize();
    return b % (1024 * 1024) == 0 ? b / (1024 * 1024) + " MB" : b + " bytes";
  }

  private static String codeSuffix(GraphProbe.Result r) {
    return r.code() == null ? "" : " " + r.code();
  }
}
