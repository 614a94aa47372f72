package io.relay365.sandbox;

import io.relay365.sandbox.GraphFaults.Op;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The sandbox's Microsoft Graph (microsoft-wire.md §3, §6), on its own HTTPS origin as graph.microsoft.com
 * is its own host: {@code POST /v1.0/users/{id}/sendMail} with base64 MIME, and the large-message path
 * (draft from MIME, attachments, upload sessions, send, delete), plus the harmless calls doctor makes
 * ({@code GET /v1.0/organization}, {@code GET /v1.0/users/{id}/mailFolders/{name}}). The upload URL is
 * served on the sandbox's main origin (the real one is on outlook.office.com, not Graph), pre-authenticated
 * by a token in its query.
 *
 * <p>Strict where Graph is strict: bearer signature, audience (a Graph token; an Exchange token gets 401
 * InvalidAuthenticationToken), tenant, lifetime, roles (Mail.Send to send, Mail.ReadWrite for drafts, 403
 * ErrorAccessDenied otherwise), text/plain and valid base64 for MIME, about 4 MB per request (413), 4
 * concurrent requests per mailbox (429), MaxSendSize on send. Where the real answer is not documented the
 * sandbox's choice is marked GUESS.
 */
final class GraphEndpoint {
  private static final String GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000";
  private static final String WWW_AUTHENTICATE = "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline"
      + ".com/common/oauth2/authorize\", client_id=\"" + GRAPH_APP_ID + "\"";
  /** GUESS: "about 4 MB" per request (§3) taken as 4 MiB. */
  static final long MAX_REQUEST = 4L * 1024 * 1024;
  /** Upload chunks: at most 4 MB each (§3); GUESS: 4 MiB. */
  static final long MAX_CHUNK = 4L * 1024 * 1024;
  /** GUESS: smallest upload session, Microsoft's "3 MB" read as 3,000,000 bytes. */
  static final long MIN_UPLOAD = 3_000_000L;
  /** Largest attachment through an upload session (§3: 3–150 MB). */
  static final long MAX_UPLOAD = 150L * 1024 * 1024;

  private final Sandbox sandbox;
  final AtomicInteger requests = new AtomicInteger();
  final AtomicInteger uploadRequests = new AtomicInteger();
  private final Map<String, AtomicInteger> inFlight = new ConcurrentHashMap<>();
  final GraphDrafts drafts = new GraphDrafts();

  GraphEndpoint(Sandbox sandbox) {
    this.sandbox = sandbox;
  }

  /** What to send back; {@code slot} is the mailbox whose concurrency slot to release once sent. */
  record Reply(int status, Map<String, String> headers, String body, String slot) {
    static Reply of(int status) {
      return new Reply(status, Map.of(), null, null);
    }

    static Reply json(int status, String body) {
      return new Reply(status, Map.of(), body, null);
    }

    Reply holding(String mailbox) {
      return new Reply(status, headers, body, mailbox);
    }

    Reply with(String header, String value) {
      Map<String, String> h = new LinkedHashMap<>(headers);
      h.put(header, value);
      return new Reply(status, h, body, slot);
    }
  }

  /** Thrown to answer at once. */
  private static final class Answer extends Exception {
    final transient Reply reply;

    Answer(Reply reply) {
      super(null, null, false, false);
      this.reply = reply;
    }
  }

  /** A parsed request path. */
  record Route(Op op, String mailbox, String messageId, String folder) {}

  record Token(String id, List<?> roles) {}

  private static final String ARRIVED = "sandbox.graph.arrived";

  // ---- Graph API ---------------------------------------------------------------------------------

  void handle(RoutingContext ctx) {
    ctx.put(ARRIVED, System.nanoTime());
    requests.incrementAndGet();
    String clientRequestId = ctx.request().getHeader("client-request-id");
    Route route;
    try {
      route = route(ctx.request().method(), ctx.request().path());
    } catch (Answer a) {
      send(ctx, a.reply);
      return;
    }
    GraphFaults.Error injected = sandbox.faults().graph().takeError(route.op());
    if (injected != null) {
      send(ctx, injected(injected, clientRequestId));
      return;
    }
    Token token;
    try {
      token = authenticate(ctx.request().getHeader("Authorization"), clientRequestId);
      Buffer body = ctx.body() == null ? null : ctx.body().buffer();
      if (body != null && body.length() > MAX_REQUEST) {
        // GUESS (shape): the front end refuses the body before Exchange sees it.
        throw error(413, "RequestBodyTooLarge", null, clientRequestId);
      }
      if (route.op() == Op.PROBE && route.mailbox() == null) {
        send(ctx, organization(token, clientRequestId));
        return;
      }
      requireRole(route.op(), token, clientRequestId);
      checkMailbox(route.mailbox(), clientRequestId);
    } catch (Answer a) {
      send(ctx, a.reply);
      return;
    }
    String slot = route.mailbox().toLowerCase(Locale.ROOT);
    AtomicInteger n = inFlight.computeIfAbsent(slot, k -> new AtomicInteger());
    if (n.incrementAndGet() > sandbox.faults().graph().maxConcurrent()) {
      n.decrementAndGet();
      // GUESS: Retry-After 1 s (the text is Outlook's, the header value is not documented).
      send(ctx, Reply.json(429, GraphJson.error("ApplicationThrottled", null, clientRequestId))
          .with("Retry-After", "1"));
      return;
    }
    GraphFaults.Error throttle = sandbox.faults().graph().takeThrottle(route.op());
    if (throttle != null) {
      send(ctx, Reply.json(429, GraphJson.throttled(429))
          .with("Retry-After", String.valueOf(throttle.retryAfterSeconds())).holding(slot));
      return;
    }
    String contentType = ctx.request().getHeader("Content-Type");
    Buffer body = ctx.body() == null ? null : ctx.body().buffer();
    sandbox.vertx().executeBlocking(() -> {
      try {
        return operation(route, token, contentType, body, clientRequestId);
      } catch (Answer a) {
        return a.reply;
      }
    }, false).onComplete(ar -> {
      if (ar.succeeded()) {
        send(ctx, ar.result().holding(slot));
      } else {
        n.decrementAndGet();
        ctx.fail(ar.cause());
      }
    });
  }

  private static final Pattern USERS_PAREN = Pattern.compile("^users\\('((?:[^']|'')*)'\\)(/.*)?$");

  /**
   * /v1.0/users/{id}/… or /v1.0/users('{id}')/… (the form Graph requires for ids starting with '$'); the
   * id percent-decoded as RFC 3986 says ('+' stays '+').
   */
  static Route route(HttpMethod method, String rawPath) throws Answer {
    String p = rawPath;
    if (!p.startsWith("/v1.0/")) {
      throw notFound(p);
    }
    p = p.substring("/v1.0/".length());
    if (p.equalsIgnoreCase("organization")) {
      requireMethod(method, HttpMethod.GET);
      return new Route(Op.PROBE, null, null, null);
    }
    String id;
    String rest;
    Matcher m = USERS_PAREN.matcher(p);
    if (m.matches()) {
      id = decode(m.group(1)).replace("''", "'");
      rest = m.group(2) == null ? "" : m.group(2).substring(1);
    } else if (p.regionMatches(true, 0, "users/", 0, 6)) {
      int slash = p.indexOf('/', 6);
      id = decode(slash < 0 ? p.substring(6) : p.substring(6, slash));
      rest = slash < 0 ? "" : p.substring(slash + 1);
    } else {
      throw notFound(p.split("/")[0]);
    }
    String[] s = rest.isEmpty() ? new String[0] : rest.split("/", -1);
    if (s.length == 1 && s[0].equalsIgnoreCase("sendMail")) {
      requireMethod(method, HttpMethod.POST);
      return new Route(Op.SEND_MAIL, id, null, null);
    }
    if (s.length >= 1 && s[0].equalsIgnoreCase("messages")) {
      if (s.length == 1) {
        requireMethod(method, HttpMethod.POST);
        return new Route(Op.CREATE_DRAFT, id, null, null);
      }
      String mid = decode(s[1]);
      if (s.length == 2) {
        requireMethod(method, HttpMethod.DELETE);
        return new Route(Op.DELETE, id, mid, null);
      }
      if (s.length == 3 && s[2].equalsIgnoreCase("send")) {
        requireMethod(method, HttpMethod.POST);
        return new Route(Op.SEND_DRAFT, id, mid, null);
      }
      if (s.length == 3 && s[2].equalsIgnoreCase("attachments")) {
        requireMethod(method, HttpMethod.POST);
        return new Route(Op.ADD_ATTACHMENT, id, mid, null);
      }
      if (s.length == 4 && s[2].equalsIgnoreCase("attachments") && s[3].equalsIgnoreCase("createUploadSession")) {
        requireMethod(method, HttpMethod.POST);
        return new Route(Op.CREATE_UPLOAD_SESSION, id, mid, null);
      }
    }
    if (s.length == 2 && s[0].equalsIgnoreCase("mailFolders")) {
      requireMethod(method, HttpMethod.GET);
      return new Route(Op.PROBE, id, null, decode(s[1]));
    }
    throw notFound(s.length == 0 ? "users" : s[s.length - 1]);
  }

  private static void requireMethod(HttpMethod actual, HttpMethod wanted) throws Answer {
    if (actual != wanted) {
      // GUESS (code and text): Graph's answer to a method a resource does not support.
      throw new Answer(Reply.json(405, GraphJson.error("BadRequest", "The sandbox implements " + wanted.name()
          + " here, not " + actual.name() + ".", null)));
    }
  }

  /** Graph's answer to a path it does not know (real text). */
  private static Answer notFound(String segment) {
    return new Answer(Reply.json(400, GraphJson.error("BadRequest", "Resource not found for the segment '"
        + segment + "'.", null)));
  }

  /** RFC 3986 percent-decoding (UTF-8); '+' is a plus sign in a path. */
  static String decode(String s) throws Answer {
    if (s.indexOf('%') < 0) {
      return s;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '%' && i + 2 < s.length()) {
        try {
          out.write(Integer.parseInt(s.substring(i + 1, i + 3), 16));
        } catch (NumberFormatException e) {
          throw notFound(s);
        }
        i += 2;
      } else if (c == '%') {
        throw notFound(s);
      } else {
        out.writeBytes(String.valueOf(c).getBytes(StandardCharsets.UTF_8));
      }
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  private Reply injected(GraphFaults.Error e, String clientRequestId) {
    String code = e.code() != null ? e.code() : GraphJson.codeFor(e.status());
    Reply r = Reply.json(e.status(), e.status() == 429 && "TooManyRequests".equals(code)
        ? GraphJson.throttled(429) : GraphJson.error(code, null, clientRequestId));
    if (e.status() == 401) {
      r = r.with("WWW-Authenticate", WWW_AUTHENTICATE + ", error=\"invalid_token\"");
    }
    return e.retryAfterSeconds() == null ? r : r.with("Retry-After", String.valueOf(e.retryAfterSeconds()));
  }

  // ---- bearer token --------------------------------------------------------------------------------

  private Token authenticate(String authorization, String crid) throws Answer {
    if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)
        || authorization.substring(7).isBlank()) {
      throw unauthorized("Access token is empty.", crid);
    }
    Jwt jwt;
    try {
      jwt = Jwt.parse(authorization.substring(7).trim());
    } catch (Jwt.MalformedJwtException e) {
      throw unauthorized("IDX14100: JWT is not well formed, there are no dots (.).", crid); // GUESS: exact IDX code
    }
    if (!jwt.verifiesWith(sandbox.pki().tokenKeys.getPublic())) {
      throw unauthorized("Access token validation failure.", crid); // GUESS: text for a bad signature
    }
    String aud = jwt.string("aud");
    if (aud == null || !(aud.equalsIgnoreCase(TokenEndpoint.GRAPH) || aud.equalsIgnoreCase(GRAPH_APP_ID)
        || aud.equalsIgnoreCase(sandbox.graphOrigin()))) {
      // e.g. an Exchange Online token (EWS's resource) sent to Graph
      throw unauthorized("Access token validation failure. Invalid audience.", crid);
    }
    if (!sandbox.tenantId().equalsIgnoreCase(jwt.string("tid"))
        || !("https://sts.windows.net/" + sandbox.tenantId() + "/").equalsIgnoreCase(jwt.string("iss"))) {
      throw unauthorized("Access token validation failure. Invalid issuer.", crid); // GUESS: text
    }
    Long exp = jwt.numericDate("exp");
    Long nbf = jwt.numericDate("nbf");
    long now = Instant.now().getEpochSecond();
    if (exp == null || now >= exp || (nbf != null && now < nbf)) {
      throw unauthorized("Lifetime validation failed, the token is expired.", crid);
    }
    Object roles = jwt.claims().getValue("roles");
    List<?> list = roles instanceof JsonArray a ? a.getList() : List.of();
    if (list.isEmpty()) {
      throw unauthorized("Either scp or roles claim need to be present in the token.", crid);
    }
    return new Token(jwt.string("jti"), list);
  }

  private static Answer unauthorized(String message, String crid) {
    return new Answer(Reply.json(401, GraphJson.error("InvalidAuthenticationToken", message, crid))
        .with("WWW-Authenticate", WWW_AUTHENTICATE + ", error=\"invalid_token\""));
  }

  /** Mail.Send to send; Mail.ReadWrite to build drafts (§3); reading a folder needs a read permission. */
  private static void requireRole(Op op, Token token, String crid) throws Answer {
    List<String> any = switch (op) {
      case SEND_MAIL, SEND_DRAFT -> List.of("Mail.Send");
      case PROBE -> List.of("Mail.ReadWrite", "Mail.Read", "Mail.ReadBasic", "Mail.ReadBasic.All");
      default -> List.of("Mail.ReadWrite");
    };
    for (String r : any) {
      if (token.roles().contains(r)) {
        return;
      }
    }
    throw error(403, "ErrorAccessDenied", null, crid);
  }

  private void checkMailbox(String mailbox, String crid) throws Answer {
    if (mailbox.indexOf('@') <= 0 || sandbox.faults().isUnknown(mailbox)) {
      throw error(404, "ErrorInvalidUser", "The requested user '" + mailbox + "' is invalid.", crid);
    }
    if (sandbox.faults().isDenied(mailbox)) {
      throw new Answer(Reply.json(403, GraphJson.RAOP_BODY));
    }
  }

  private Reply organization(Token token, String crid) throws Answer {
    if (token.roles().contains("Organization.Read.All") || token.roles().contains("Directory.Read.All")) {
      return Reply.json(200, new JsonObject().put("value", new JsonArray().add(new JsonObject()
          .put("id", sandbox.tenantId()).put("displayName", "relay365 sandbox"))).encode());
    }
    throw error(403, "Authorization_RequestDenied", null, crid);
  }

  private static Answer error(int status, String code, String message, String crid) {
    return new Answer(Reply.json(status, GraphJson.error(code, message, crid)));
  }

  // ---- operations (worker thread) -----------------------------------------------------------------

  private Reply operation(Route r, Token token, String contentType, Buffer body, String crid)
      throws Answer, IOException {
    switch (r.op()) {
      case SEND_MAIL: {
        byte[] mime = mime(contentType, body, crid);
        checkSendable(mime, crid);
        GraphDrafts.Split split = GraphDrafts.splitBcc(mime);
        sandbox.mailStore().store(r.mailbox(), r.mailbox(), "SendAndSaveCopy", split.bcc(), token.id(),
            split.visible(), "graph", "sendMail");
        return Reply.of(202);
      }
      case CREATE_DRAFT: {
        GraphDrafts.Draft d = drafts.create(r.mailbox(), mime(contentType, body, crid));
        return Reply.json(201, new JsonObject().put("@odata.context", sandbox.graphUrl()
            + "/v1.0/$metadata#users('" + r.mailbox() + "')/messages/$entity").put("id", d.id).put("isDraft", true)
            .encode());
      }
      case ADD_ATTACHMENT:
        return addAttachment(r, contentType, body, crid);
      case CREATE_UPLOAD_SESSION:
        return createUploadSession(r, contentType, body, crid);
      case SEND_DRAFT:
        return sendDraft(r, token, crid);
      case DELETE:
        return drafts.remove(r.mailbox(), r.messageId()) == null ? itemNotFound(crid) : Reply.of(204);
      case PROBE:
        return Reply.json(200, new JsonObject().put("id", "AAMkADFolder" + r.folder())
            .put("displayName", r.folder()).encode());
      default:
        throw new IllegalStateException(r.op().toString());
    }
  }

  /** The base64 MIME body of sendMail and of a draft: text/plain, strict base64, an RFC 5322 message. */
  private static byte[] mime(String contentType, Buffer body, String crid) throws Answer {
    if (contentType == null || !contentType.toLowerCase(Locale.ROOT).trim().startsWith("text/plain")) {
      // GUESS: the sandbox implements the MIME form only; the JSON form would be application/json.
      throw error(415, "UnsupportedMediaType", "The sandbox accepts MIME content only: Content-Type: text/plain"
          + " with the base64 of the message.", crid);
    }
    byte[] raw;
    try {
      raw = EwsEndpoint.decodeBase64(body == null ? "" : body.toString(StandardCharsets.US_ASCII));
    } catch (IllegalArgumentException e) {
      throw error(400, "ErrorMimeContentInvalidBase64String", null, crid);
    }
    if (raw.length == 0) {
      throw error(400, "ErrorMimeContentInvalid", null, crid); // GUESS: code for empty content
    }
    if (!startsWithHeaderField(raw)) {
      throw error(400, "ErrorMimeContentConversionFailed", null, crid); // GUESS: not RFC 5322 at all
    }
    return raw;
  }

  /** What Exchange checks when a message is submitted: MaxSendSize and someone to send to. */
  private void checkSendable(byte[] mime, String crid) throws Answer {
    if (mime.length > sandbox.faults().maxMessageSize()) {
      throw error(413, "ErrorMessageSizeExceeded", null, crid); // GUESS: status of a MaxSendSize refusal
    }
    if (!GraphDrafts.hasRecipients(mime)) {
      throw error(400, "ErrorInvalidRecipients", null, crid); // GUESS: code without recipients
    }
  }

  private Reply addAttachment(Route r, String contentType, Buffer body, String crid) throws Answer {
    GraphDrafts.Draft d = drafts.get(r.mailbox(), r.messageId());
    if (d == null) {
      return itemNotFound(crid);
    }
    JsonObject j = json(contentType, body, crid);
    if (!"#microsoft.graph.fileAttachment".equals(j.getValue("@odata.type"))) {
      throw error(400, "ErrorInvalidRequest", "The sandbox accepts #microsoft.graph.fileAttachment only.", crid);
    }
    String name = j.getValue("name") instanceof String s ? s : null;
    String b64 = j.getValue("contentBytes") instanceof String s ? s : null;
    if (name == null || name.isBlank() || b64 == null) {
      throw error(400, "ErrorInvalidRequest", "name and contentBytes are required.", crid); // GUESS: text
    }
    byte[] bytes;
    try {
      bytes = EwsEndpoint.decodeBase64(b64);
    } catch (IllegalArgumentException e) {
      throw error(400, "ErrorInvalidRequest", "contentBytes is not valid base64.", crid); // GUESS: code
    }
    GraphDrafts.Attachment a = drafts.attach(d, name, str(j, "contentType", "application/octet-stream"),
        j.getValue("isInline") instanceof Boolean b && b, str(j, "contentId", null), bytes);
    return Reply.json(201, new JsonObject().put("@odata.type", "#microsoft.graph.fileAttachment").put("id", a.id())
        .put("name", a.name()).put("contentType", a.contentType()).put("size", bytes.length)
        .put("isInline", a.inline()).put("contentId", a.contentId()).encode());
  }

  private Reply createUploadSession(Route r, String contentType, Buffer body, String crid) throws Answer {
    GraphDrafts.Draft d = drafts.get(r.mailbox(), r.messageId());
    if (d == null) {
      return itemNotFound(crid);
    }
    JsonObject item = json(contentType, body, crid).getJsonObject("AttachmentItem");
    if (item == null || !"file".equals(item.getValue("attachmentType")) || !(item.getValue("name") instanceof String)
        || !(item.getValue("size") instanceof Number)) {
      throw error(400, "ErrorInvalidRequest", "AttachmentItem needs attachmentType \"file\", name and size.", crid);
    }
    long size = item.getLong("size");
    if (size < MIN_UPLOAD) {
      throw error(400, "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize", null, crid);
    }
    if (size > MAX_UPLOAD) {
      throw error(413, "ErrorMessageSizeExceeded", null, crid); // GUESS: code above 150 MB
    }
    GraphDrafts.Upload u = drafts.startUpload(d, item.getString("name"), str(item, "contentType",
        "application/octet-stream"), item.getValue("isInline") instanceof Boolean b && b, str(item, "contentId",
        null), size);
    // Shape of the real URL (on the Outlook host, not Graph); the sandbox's main origin plays that host.
    String url = sandbox.loginUrl() + "/api/v2.0/Users('" + r.mailbox() + "')/Messages('" + d.id
        + "')/AttachmentSessions('" + u.id + "')?authtoken=" + u.authToken;
    return Reply.json(201, new JsonObject()
        .put("@odata.context", sandbox.graphUrl() + "/v1.0/$metadata#microsoft.graph.uploadSession")
        .put("uploadUrl", url).put("expirationDateTime", expiry())
        .put("nextExpectedRanges", new JsonArray().add("0-")).encode());
  }

  private Reply sendDraft(Route r, Token token, String crid) throws Answer, IOException {
    GraphDrafts.Draft d = drafts.get(r.mailbox(), r.messageId());
    if (d == null) {
      return itemNotFound(crid);
    }
    byte[] assembled;
    try {
      assembled = GraphDrafts.assemble(d);
    } catch (jakarta.mail.MessagingException e) {
      throw error(400, "ErrorMimeContentConversionFailed", null, crid);
    }
    checkSendable(assembled, crid);
    GraphDrafts.Split split = GraphDrafts.splitBcc(assembled);
    drafts.remove(r.mailbox(), d.id); // sent mail leaves Drafts (and is saved to Sent Items)
    sandbox.mailStore().store(r.mailbox(), r.mailbox(), "SendAndSaveCopy", split.bcc(), token.id(), split.visible(),
        "graph", "draft+upload");
    return Reply.of(202);
  }

  private static Reply itemNotFound(String crid) {
    return Reply.json(404, GraphJson.error("ErrorItemNotFound", null, crid));
  }

  private static JsonObject json(String contentType, Buffer body, String crid) throws Answer {
    if (contentType == null || !contentType.toLowerCase(Locale.ROOT).trim().startsWith("application/json")) {
      throw error(415, "UnsupportedMediaType", "Content-Type must be application/json.", crid); // GUESS
    }
    try {
      JsonObject j = body == null ? null : body.toJsonObject();
      if (j == null) {
        throw new DecodeException("empty");
      }
      return j;
    } catch (DecodeException | ClassCastException e) {
      // Graph's words for a body it cannot read (GUESS: exact text).
      throw error(400, "RequestBodyRead", "Unable to read JSON request payload.", crid);
    }
  }

  private static String str(JsonObject j, String key, String dflt) {
    return j.getValue(key) instanceof String s && !s.isEmpty() ? s : dflt;
  }

  private static String expiry() {
    return Instant.now().plus(6, ChronoUnit.HOURS).truncatedTo(ChronoUnit.SECONDS).toString();
  }

  private static boolean startsWithHeaderField(byte[] raw) {
    for (int i = 0; i < raw.length && i < 1000; i++) {
      byte b = raw[i];
      if (b == ':') {
        return i > 0;
      }
      if (b < 33 || b > 126) {
        return false;
      }
    }
    return false;
  }

  // ---- the upload URL (on the main origin) -----------------------------------------------------------

  private static final Pattern UPLOAD_PATH = Pattern.compile(
      "^/api/v2\\.0/Users\\('[^/]*'\\)/Messages\\('[^/']+'\\)/AttachmentSessions\\('([^/']+)'\\)$");
  private static final Pattern CONTENT_RANGE = Pattern.compile("^bytes (\\d+)-(\\d+)/(\\d+)$");

  /**
   * {@code PUT uploadUrl}: pre-authenticated, so a request that carries Authorization is refused (§3);
   * Content-Range must continue where the last chunk ended, each chunk at most 4 MB; 200 with
   * nextExpectedRanges until the last chunk, which gets 201 and Location.
   */
  void upload(RoutingContext ctx) {
    uploadRequests.incrementAndGet();
    String crid = ctx.request().getHeader("client-request-id");
    GraphFaults.Error injected = sandbox.faults().graph().takeError(Op.UPLOAD);
    if (injected != null) {
      reply(ctx, injected(injected, crid));
      return;
    }
    try {
      reply(ctx, chunk(ctx, crid));
    } catch (Answer a) {
      reply(ctx, a.reply);
    }
  }

  private Reply chunk(RoutingContext ctx, String crid) throws Answer {
    if (ctx.request().method() != HttpMethod.PUT) {
      throw error(405, "BadRequest", "Upload URLs take PUT.", crid);
    }
    if (ctx.request().getHeader("Authorization") != null) {
      // The URL carries its own token; an Authorization header (e.g. the Graph bearer token, which this
      // host must never see) makes the PUT fail. GUESS: the body.
      throw new Answer(Reply.json(401, GraphJson.error("InvalidAuthenticationToken", "The upload URL is"
          + " pre-authenticated: send it no Authorization header.", crid)));
    }
    Matcher m = UPLOAD_PATH.matcher(ctx.request().path());
    GraphDrafts.Upload u = m.matches() ? drafts.upload(m.group(1)) : null;
    String authtoken = ctx.request().getParam("authtoken");
    if (u == null || authtoken == null || !java.security.MessageDigest.isEqual(
        authtoken.getBytes(StandardCharsets.US_ASCII), u.authToken.getBytes(StandardCharsets.US_ASCII))) {
      throw error(404, "ErrorItemNotFound", null, crid); // GUESS: unknown or expired session
    }
    String ct = ctx.request().getHeader("Content-Type");
    if (ct == null || !ct.toLowerCase(Locale.ROOT).startsWith("application/octet-stream")) {
      throw error(415, "UnsupportedMediaType", "Content-Type must be application/octet-stream.", crid); // GUESS
    }
    Buffer body = ctx.body() == null ? null : ctx.body().buffer();
    int length = body == null ? 0 : body.length();
    if (length > MAX_CHUNK) {
      throw error(413, "RequestBodyTooLarge", "A chunk may hold at most 4 MB.", crid); // GUESS: status and code
    }
    Matcher r = CONTENT_RANGE.matcher(String.valueOf(ctx.request().getHeader("Content-Range")).trim());
    if (!r.matches()) {
      throw error(400, "InvalidContentRange", "Content-Range must be bytes {start}-{end}/{total}.", crid); // GUESS
    }
    long start = Long.parseLong(r.group(1));
    long end = Long.parseLong(r.group(2));
    long total = Long.parseLong(r.group(3));
    synchronized (u) {
      if (total != u.size || end < start || end >= total || end - start + 1 != length) {
        throw error(400, "InvalidContentRange", "Content-Range does not match the session's size or the chunk.",
            crid); // GUESS
      }
      if (start != u.next) {
        // GUESS: a gap or overlap is refused like OneDrive's 416, naming the range expected.
        throw new Answer(Reply.json(416, GraphJson.error("InvalidRange", "The uploaded fragment does not start"
            + " at the next expected byte " + u.next + ".", crid)));
      }
      u.data.write(body.getBytes(), 0, length);
      u.next = end + 1;
      if (u.next < u.size) {
        return Reply.json(200, new JsonObject().put("expirationDateTime", expiry())
            .put("nextExpectedRanges", new JsonArray().add(u.next + "-")).encode());
      }
      GraphDrafts.Attachment a = drafts.attach(u.draft, u.name, u.contentType, u.inline, u.contentId,
          u.data.toByteArray());
      drafts.finishUpload(u);
      return Reply.of(201).with("Location", sandbox.graphUrl() + "/v1.0/users('" + u.draft.mailbox
          + "')/messages('" + u.draft.id + "')/attachments('" + a.id() + "')");
    }
  }

  // ---- replies -------------------------------------------------------------------------------------

  /** Sends after the simulated latency, counted from the request's arrival (as EwsEndpoint does). */
  private void send(RoutingContext ctx, Reply r) {
    Long arrived = ctx.get(ARRIVED);
    long spent = arrived == null ? 0 : (System.nanoTime() - arrived) / 1_000_000;
    long delay = sandbox.faults().graph().latency().toMillis() - spent;
    if (delay > 0) {
      sandbox.vertx().setTimer(delay, t -> reply(ctx, r));
    } else {
      reply(ctx, r);
    }
  }

  private void reply(RoutingContext ctx, Reply r) {
    if (ctx.response().closed() || ctx.response().ended()) {
      release(r.slot());
      return;
    }
    ctx.response().setStatusCode(r.status());
    r.headers().forEach((k, v) -> ctx.response().putHeader(k, v));
    if (r.body() != null) {
      ctx.response().putHeader("Content-Type", "application/json; charset=utf-8");
      ctx.response().end(r.body()).onComplete(x -> release(r.slot()));
    } else {
      ctx.response().end().onComplete(x -> release(r.slot()));
    }
  }

  private void release(String mailbox) {
    if (mailbox != null) {
      AtomicInteger n = inFlight.get(mailbox);
      if (n != null) {
        n.decrementAndGet();
      }
    }
  }

  /** Every Graph path of the sandbox that is not /v1.0/…: Graph's 400 for an unknown segment. */
  void unknown(RoutingContext ctx) {
    requests.incrementAndGet();
    String path = ctx.request().path();
    String seg = path.replaceAll("^/+", "").split("/")[0];
    reply(ctx, notFound(seg.isEmpty() ? "/" : seg).reply);
  }
}
