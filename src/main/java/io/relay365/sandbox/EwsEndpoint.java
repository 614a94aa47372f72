package io.relay365.sandbox;

import io.netty.buffer.ByteBufInputStream;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import io.vertx.ext.web.RoutingContext;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.xml.sax.SAXException;
import org.xml.sax.SAXParseException;

/**
 * {@code POST /EWS/Exchange.asmx}: CreateItem (raw MIME + BccRecipients, SendOnly / SendAndSaveCopy) and a
 * minimal GetFolder, strict where Exchange Online is strict (microsoft-wire.md §2.1–2.6, §6).
 * Parsing, validation and storing run on a worker thread (requests can be tens of MB).
 */
final class EwsEndpoint {
  private static final String EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000";
  private static final String WWW_AUTHENTICATE_BASE = "Bearer client_id=\"" + EXCHANGE_APP_ID + "\", "
      + "trusted_issuers=\"00000001-0000-0000-c000-000000000000@*\", "
      + "token_types=\"app_asserted_user_v1 service_asserted_app_v1\", "
      + "authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\"";

  /**
   * Child elements of t:Message in schema order (types.xsd: ItemType's sequence, then MessageType's).
   * An element out of this order, unknown, or repeated (except ExtendedProperty) fails schema validation.
   */
  private static final List<String> MESSAGE_ORDER = List.of(
      // ItemType
      "MimeContent", "ItemId", "ParentFolderId", "ItemClass", "Subject", "Sensitivity", "Body", "Attachments",
      "DateTimeReceived", "Size", "Categories", "Importance", "InReplyTo", "IsSubmitted", "IsDraft", "IsFromMe",
      "IsResend", "IsUnmodified", "InternetMessageHeaders", "DateTimeSent", "DateTimeCreated", "ResponseObjects",
      "ReminderDueBy", "ReminderIsSet", "ReminderNextTime", "ReminderMinutesBeforeStart", "DisplayCc", "DisplayTo",
      "HasAttachments", "ExtendedProperty", "Culture", "EffectiveRights", "LastModifiedName", "LastModifiedTime",
      "IsAssociated", "WebClientReadFormQueryString", "WebClientEditFormQueryString", "ConversationId",
      "UniqueBody", "Flag", "StoreEntryId", "InstanceKey", "NormalizedBody", "EntityExtractionResult", "PolicyTag",
      "ArchiveTag", "RetentionDate", "Preview", "RightsManagementLicenseData", "PredictedActionReasons", "IsClutter",
      "TextBody", "IconIndex", "SearchKey", "SortKey", "Hashtags", "Mentions", "MentionedMe", "MentionsPreview",
      "MentionsEx", "AppliedHashtags", "AppliedHashtagsPreview", "Likes", "LikesPreview",
      "PendingSocialActivityTagIds", "AtAllMention", "CanDelete", "InferenceClassification",
      // MessageType
      "Sender", "ToRecipients", "CcRecipients", "BccRecipients", "IsReadReceiptRequested",
      "IsDeliveryReceiptRequested", "ConversationIndex", "ConversationTopic", "From", "InternetMessageId", "IsRead",
      "IsResponseRequested", "References", "ReplyTo", "ReceivedBy", "ReceivedRepresenting", "ApprovalRequestData",
      "VotingInformation", "ReminderMessageData", "MessageSafety", "SenderSMTPAddress", "MailboxGuids",
      "PublishedCalendarItemIcs", "PublishedCalendarItemName");

  private static final Set<String> FOLDERS = Set.of("inbox", "sentitems", "drafts", "outbox", "deleteditems",
      "msgfolderroot", "root", "junkemail");

  private final Sandbox sandbox;
  final AtomicInteger requests = new AtomicInteger();
  private final Map<String, AtomicInteger> inFlight = new ConcurrentHashMap<>();

  EwsEndpoint(Sandbox sandbox) {
    this.sandbox = sandbox;
  }

  /** What to send back; {@code slot} is the mailbox whose concurrency slot to release once sent. */
  record Reply(int status, Map<String, String> headers, String body, String slot) {
    static Reply empty(int status) {
      return new Reply(status, Map.of(), null, null);
    }

    static Reply xml(int status, String body) {
      return new Reply(status, Map.of(), body, null);
    }

    Reply holding(String mailbox) {
      return new Reply(status, headers, body, mailbox);
    }
  }

  /** Thrown inside request processing to answer at once. */
  private static final class Answer extends Exception {
    final transient Reply reply;

    Answer(Reply reply) {
      super(null, null, false, false);
      this.reply = reply;
    }
  }

  private static final String ARRIVED = "sandbox.arrived";

  void handle(RoutingContext ctx) {
    ctx.put(ARRIVED, System.nanoTime());
    requests.incrementAndGet();
    Integer status = sandbox.faults().takeEwsHttpStatus();
    if (status != null) {
      send(ctx, Reply.empty(status));
      return;
    }
    if (!"POST".equals(ctx.request().method().name())) {
      send(ctx, Reply.empty(405));
      return;
    }
    Token token;
    try {
      token = authenticate(ctx.request().getHeader("Authorization"));
    } catch (Answer a) {
      send(ctx, a.reply);
      return;
    }
    if (sandbox.faults().isEwsDisabled()) {
      send(ctx, Reply.empty(403)); // EWSEnabled=False / AppID not on EwsAllowedAppIDs: body unverified (§2.6)
      return;
    }
    String ct = ctx.request().getHeader("Content-Type");
    if (ct == null || !ct.toLowerCase(Locale.ROOT).trim().startsWith("text/xml")) {
      send(ctx, Reply.empty(415)); // GUESS: EWS is SOAP 1.1 over text/xml; other media types refused by IIS
      return;
    }
    Buffer body = ctx.body().buffer();
    String anchor = ctx.request().getHeader("X-AnchorMailbox");
    sandbox.vertx().executeBlocking(() -> process(body, anchor, token), false)
        .onSuccess(r -> send(ctx, r))
        .onFailure(ctx::fail);
  }

  /**
   * The simulated latency is the server's response time, counted from the request's arrival, as a
   * client would measure Exchange's: the sandbox's own parsing and disk writes are part of it, not
   * added on top (which would make a relay look slower than it is against the real service).
   */
  private void send(RoutingContext ctx, Reply r) {
    Long arrived = ctx.get(ARRIVED);
    long spent = arrived == null ? 0 : (System.nanoTime() - arrived) / 1_000_000;
    long delay = sandbox.faults().latency().toMillis() - spent;
    Runnable end = () -> {
      if (ctx.response().closed() || ctx.response().ended()) {
        release(r.slot());
        return;
      }
      ctx.response().setStatusCode(r.status());
      r.headers().forEach((k, v) -> ctx.response().putHeader(k, v));
      if (r.body() != null) {
        ctx.response().putHeader("Content-Type", "text/xml; charset=utf-8");
        ctx.response().end(r.body()).onComplete(x -> release(r.slot()));
      } else {
        ctx.response().end().onComplete(x -> release(r.slot()));
      }
    };
    if (delay > 0) {
      sandbox.vertx().setTimer(delay, t -> end.run());
    } else {
      end.run();
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

  // ---- bearer token (§1.3, §2.6) ----------------------------------------------------------------

  /** A valid bearer token; {@code rbacOnly}: it carries no roles, and RBAC for Applications decides per mailbox. */
  record Token(String id, String audience, boolean rbacOnly) {}

  private Token authenticate(String authorization) throws Answer {
    if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
      // GUESS: no credentials at all: a bare challenge (RFC 6750 3.1: no error attribute), no diagnostics.
      throw new Answer(new Reply(401, Map.of("WWW-Authenticate", WWW_AUTHENTICATE_BASE), null, null));
    }
    Jwt jwt;
    try {
      jwt = Jwt.parse(authorization.substring(7).trim());
    } catch (Jwt.MalformedJwtException e) {
      throw unauthorized("2000001;reason=\"OAuth token submitted with the request cannot be parsed.\";"
          + "error_category=\"invalid_token\"");
    }
    if (!jwt.verifiesWith(sandbox.pki().tokenKeys.getPublic())) {
      // GUESS: diagnostics text for a token whose signature does not verify.
      throw unauthorized("2000001;reason=\"The token signature is not valid.\";error_category=\"invalid_token\"");
    }
    String aud = jwt.string("aud");
    if (aud == null || !(aud.equalsIgnoreCase(TokenEndpoint.OUTLOOK) || aud.equalsIgnoreCase(sandbox.ewsOrigin()))) {
      // GUESS (seen in the wild, not documented): wrong audience, e.g. a Graph token sent to EWS.
      throw unauthorized("2000003;reason=\"The audience claim value is invalid '" + aud + "'.\";"
          + "error_category=\"invalid_resource\"");
    }
    if (!sandbox.tenantId().equalsIgnoreCase(jwt.string("tid"))
        || !("https://sts.windows.net/" + sandbox.tenantId() + "/").equalsIgnoreCase(jwt.string("iss"))) {
      // GUESS: diagnostics for a token from another tenant.
      throw unauthorized("2000007;reason=\"The token issuer or tenant is not valid for this organization.\";"
          + "error_category=\"invalid_token\"");
    }
    Long exp = jwt.numericDate("exp");
    Long nbf = jwt.numericDate("nbf");
    long now = Instant.now().getEpochSecond();
    if (exp == null || now >= exp || (nbf != null && now < nbf)) {
      // GUESS (doc: "diagnostics for an expired token are unverified").
      throw unauthorized("2000009;reason=\"The token has expired.\";error_category=\"invalid_lifetime\"");
    }
    Object roles = jwt.claims().getValue("roles");
    List<?> list = roles instanceof io.vertx.core.json.JsonArray a ? a.getList() : List.of();
    if (list.isEmpty() && sandbox.faults().rbac()) {
      return new Token(jwt.string("jti"), aud, true);
    }
    if (list.isEmpty()) {
      throw unauthorized("2000008;reason=\"The token contains no permissions, or permissions can not be understood.\";"
          + "error_category=\"invalid_grant\"");
    }
    if (!list.contains("full_access_as_app")) {
      throw new Answer(new Reply(403, Map.of("x-ms-diagnostics",
          "2000008;reason=\"The token contains not enough scope to make this call.\";error_category=\"invalid_grant\""),
          null, null));
    }
    return new Token(jwt.string("jti"), aud, false);
  }

  private static Answer unauthorized(String diagnostics) {
    Map<String, String> h = new LinkedHashMap<>();
    h.put("WWW-Authenticate", WWW_AUTHENTICATE_BASE + ", error=\"invalid_token\"");
    h.put("x-ms-diagnostics", diagnostics);
    return new Answer(new Reply(401, h, null, null));
  }

  // ---- SOAP ------------------------------------------------------------------------------------

  private Reply process(Buffer body, String anchor, Token token) {
    try {
      Document doc = parse(body);
      Element env = doc.getDocumentElement();
      if (!is(env, EwsXml.SOAP, "Envelope")) {
        throw schema("The root element must be a SOAP 1.1 soap:Envelope.");
      }
      Element header = child(env, EwsXml.SOAP, "Header");
      Element soapBody = child(env, EwsXml.SOAP, "Body");
      if (soapBody == null) {
        throw schema("soap:Body is missing.");
      }
      String mailbox = impersonated(header);
      if (anchor == null || anchor.isBlank()) {
        // GUESS: Microsoft only says "expect 500/503 answers and timeouts" without X-AnchorMailbox (§2.1);
        // the sandbox answers 503 with an empty body, which a relay treats as transient (it will keep retrying).
        throw new Answer(new Reply(503, Map.of("x-sandbox-error", "X-AnchorMailbox header missing"), null, null));
      }
      if (!anchorMatches(anchor.trim(), mailbox)) {
        // GUESS: anchor pointing at another mailbox: routed to the wrong backend, which fails the call.
        throw new Answer(new Reply(500, Map.of("x-sandbox-error", "X-AnchorMailbox does not match the impersonated mailbox"),
            EwsXml.fault("ErrorInternalServerError", EwsXml.text("ErrorInternalServerError"), null, null, null), null));
      }
      if (sandbox.faults().isDenied(mailbox) || (token.rbacOnly() && !sandbox.faults().rbacGrants(mailbox))) {
        throw new Answer(Reply.empty(403)); // Application Access Policy / RBAC scope excludes it: body unverified
      }
      if (sandbox.faults().isUnknown(mailbox)) {
        throw fault("ErrorNonExistentMailbox", null);
      }
      Element op = firstChild(soapBody);
      if (op == null) {
        throw schema("soap:Body is empty.");
      }
      String slot = mailbox.toLowerCase(Locale.ROOT);
      AtomicInteger n = inFlight.computeIfAbsent(slot, k -> new AtomicInteger());
      if (n.incrementAndGet() > sandbox.faults().maxConcurrent()) {
        n.decrementAndGet();
        // GUESS: EWSMaxConcurrency overflow arrives as a SOAP fault.
        throw fault("ErrorExceededConnectionCount", null);
      }
      try {
        Reply r;
        if (is(op, EwsXml.M, "CreateItem")) {
          r = createItem(op, mailbox, anchor.trim(), token);
        } else if (is(op, EwsXml.M, "GetFolder")) {
          r = getFolder(op);
        } else {
          r = faultReply("ErrorInvalidRequest", "The sandbox implements CreateItem and GetFolder only, not "
              + op.getLocalName() + ".", null);
        }
        return r.holding(slot);
      } catch (Answer a) {
        return a.reply.holding(slot);
      } catch (RuntimeException | IOException e) {
        n.decrementAndGet();
        throw e;
      }
    } catch (Answer a) {
      return a.reply;
    } catch (SAXParseException e) {
      return Reply.xml(500, EwsXml.fault("ErrorSchemaValidation", "The request failed schema validation: "
          + e.getMessage(), null, e.getLineNumber(), e.getColumnNumber()));
    } catch (SAXException | IOException e) {
      return Reply.xml(500, EwsXml.fault("ErrorSchemaValidation", "The request failed schema validation: "
          + e.getMessage(), null, 0, 0));
    }
  }

  /** t:ExchangeImpersonation/t:ConnectingSID with one of the four identities (§2.1). */
  private static String impersonated(Element header) throws Answer {
    Element imp = header == null ? null : child(header, EwsXml.T, "ExchangeImpersonation");
    if (imp == null) {
      // GUESS (shape): the text is Exchange Online's; as a SOAP fault with this ResponseCode.
      throw fault("ErrorInvalidExchangeImpersonationHeaderData",
          "ExchangeImpersonation SOAP header must be present for this type of OAuth token.");
    }
    Element sid = child(imp, EwsXml.T, "ConnectingSID");
    Element id = sid == null ? null : firstChild(sid);
    if (id == null || !EwsXml.T.equals(id.getNamespaceURI())
        || !Set.of("PrimarySmtpAddress", "SmtpAddress", "PrincipalName", "SID").contains(id.getLocalName())
        || id.getTextContent().isBlank() || firstChild(imp) != sid || nextSibling(id) != null) {
      throw fault("ErrorInvalidExchangeImpersonationHeaderData",
          "The impersonation header is not valid: ConnectingSID needs exactly one of PrimarySmtpAddress, SmtpAddress,"
              + " PrincipalName or SID.");
    }
    return id.getTextContent().trim();
  }

  private static boolean anchorMatches(String anchor, String mailbox) {
    String a = anchor;
    for (String prefix : List.of("SMTP:", "UPN:", "SID:")) { // documented X-AnchorMailbox prefixes
      if (a.regionMatches(true, 0, prefix, 0, prefix.length())) {
        a = a.substring(prefix.length());
      }
    }
    return a.equalsIgnoreCase(mailbox);
  }

  private Reply createItem(Element op, String mailbox, String anchor, Token token) throws Answer, IOException {
    Faults.Busy busy = sandbox.faults().takeBusy();
    if (busy != null) {
      return busy.asSoapFault() ? faultReply("ErrorServerBusy", null, busy.backOffMillis())
          : Reply.xml(200, EwsXml.responseError("CreateItem", "ErrorServerBusy", EwsXml.text("ErrorServerBusy"),
              busy.backOffMillis()));
    }
    Faults.EwsError injected = sandbox.faults().takeEwsError();
    if (injected != null) {
      return injected.asSoapFault() ? faultReply(injected.responseCode(), null, null)
          : error(injected.responseCode(), null);
    }
    String disposition = op.getAttribute("MessageDisposition");
    if (disposition.isEmpty()) {
      return error("ErrorMessageDispositionRequired", null);
    }
    if (!Set.of("SaveOnly", "SendOnly", "SendAndSaveCopy").contains(disposition)) {
      throw schema("The 'MessageDisposition' attribute is invalid - The value '" + disposition
          + "' is invalid according to its datatype.");
    }
    if (disposition.equals("SaveOnly")) {
      // Sandbox limitation: drafts are not modelled.
      return error("ErrorInvalidOperation", "The sandbox does not implement MessageDisposition SaveOnly.");
    }
    // CreateItemType: SavedItemFolderId?, Items (messages.xsd).
    Element saved = null;
    Element items = null;
    for (Element c = firstChild(op); c != null; c = nextSibling(c)) {
      if (is(c, EwsXml.M, "SavedItemFolderId") && saved == null && items == null) {
        saved = c;
      } else if (is(c, EwsXml.M, "Items") && items == null) {
        items = c;
      } else {
        throw schema("The element '" + c.getLocalName() + "' in CreateItem is unexpected here.");
      }
    }
    if (items == null) {
      throw schema("The element 'CreateItem' has incomplete content. List of possible elements expected: 'Items'.");
    }
    if (disposition.equals("SendAndSaveCopy")) {
      Element folder = saved == null ? null : firstChild(saved);
      if (folder == null || !is(folder, EwsXml.T, "DistinguishedFolderId")
          || !"sentitems".equals(folder.getAttribute("Id"))) {
        // GUESS (code): the sandbox insists on SavedItemFolderId = sentitems for SendAndSaveCopy (§2.2).
        return error("ErrorSavedItemFolderNotFound",
            "SendAndSaveCopy needs m:SavedItemFolderId/t:DistinguishedFolderId Id=\"sentitems\" before m:Items.");
      }
    }
    Element message = firstChild(items);
    if (message == null) {
      throw schema("The element 'Items' has incomplete content.");
    }
    if (nextSibling(message) != null || !is(message, EwsXml.T, "Message")) {
      return error("ErrorInvalidRequest", "The sandbox accepts exactly one t:Message per CreateItem.");
    }

    // t:Message children in schema order; remember what we need.
    int last = -1;
    Element mime = null;
    List<String> bcc = new ArrayList<>();
    List<String> explicitRecipients = new ArrayList<>();
    for (Element c = firstChild(message); c != null; c = nextSibling(c)) {
      int idx = EwsXml.T.equals(c.getNamespaceURI()) ? MESSAGE_ORDER.indexOf(c.getLocalName()) : -1;
      if (idx < 0) {
        throw schema("The element 'Message' in namespace '" + EwsXml.T + "' has invalid child element '"
            + c.getLocalName() + "'.");
      }
      if (idx < last || (idx == last && !c.getLocalName().equals("ExtendedProperty"))) {
        throw schema("The element 'Message' in namespace '" + EwsXml.T + "' has invalid child element '"
            + c.getLocalName() + "' in namespace '" + EwsXml.T + "'. (schema order)");
      }
      last = idx;
      switch (c.getLocalName()) {
        case "MimeContent":
          mime = c;
          break;
        case "BccRecipients":
          bcc.addAll(addresses(c));
          break;
        case "ToRecipients":
        case "CcRecipients":
          explicitRecipients.addAll(addresses(c));
          break;
        default:
          break;
      }
    }
    if (mime == null) {
      // Sandbox limitation/GUESS: the relay always sends raw MIME; a message without it is refused.
      return error("ErrorMimeContentInvalid", "The sandbox requires t:MimeContent.");
    }
    String b64 = mime.getTextContent();
    // Exchange's MaxSendSize applies to the message as MIME (its attachments already base64 inside,
    // hence "measured after encoding"), not to the second base64 layer EWS wraps it in for transport.
    long mimeSize = b64.length() / 4L * 3;
    if (mimeSize > sandbox.faults().maxMessageSize()) {
      return error("ErrorMessageSizeExceeded", null);
    }
    byte[] raw;
    try {
      raw = decodeBase64(b64);
    } catch (IllegalArgumentException e) {
      return error("ErrorMimeContentInvalidBase64String", null);
    }
    if (raw.length == 0) {
      return error("ErrorMimeContentInvalid", null); // GUESS: code for an empty MimeContent
    }
    if (!startsWithHeaderField(raw)) {
      return error("ErrorMimeContentConversionFailed", null); // GUESS: content that is not RFC 5322 at all
    }
    ReceivedMessage probe = new ReceivedMessage(0, mailbox, anchor, disposition, bcc, token.id(), raw, null);
    if (bcc.isEmpty() && explicitRecipients.isEmpty() && probe.header("To") == null && probe.header("Cc") == null
        && probe.header("Bcc") == null) {
      return error("ErrorInvalidRecipients", null); // nobody to send to
    }
    sandbox.mailStore().store(mailbox, anchor, disposition, bcc, token.id(), raw);
    return Reply.xml(200, EwsXml.createItemSuccess());
  }

  private Reply getFolder(Element op) throws Answer {
    Element ids = null;
    for (Element c = firstChild(op); c != null; c = nextSibling(c)) {
      if (is(c, EwsXml.M, "FolderIds")) {
        ids = c;
      } else if (!is(c, EwsXml.M, "FolderShape")) {
        throw schema("The element '" + c.getLocalName() + "' in GetFolder is unexpected here.");
      }
    }
    Element id = ids == null ? null : firstChild(ids);
    if (id == null) {
      throw schema("The element 'GetFolder' has incomplete content. List of possible elements expected: 'FolderIds'.");
    }
    if (!is(id, EwsXml.T, "DistinguishedFolderId") || !FOLDERS.contains(id.getAttribute("Id"))) {
      return Reply.xml(200, EwsXml.responseError("GetFolder", "ErrorFolderNotFound",
          EwsXml.text("ErrorFolderNotFound"), null));
    }
    String name = id.getAttribute("Id");
    String display = switch (name) {
      case "inbox" -> "Inbox";
      case "sentitems" -> "Sent Items";
      default -> name;
    };
    return Reply.xml(200, EwsXml.getFolderSuccess(name, display, 0));
  }

  private static List<String> addresses(Element recipients) throws Answer {
    List<String> out = new ArrayList<>();
    for (Element mb = firstChild(recipients); mb != null; mb = nextSibling(mb)) {
      Element addr = is(mb, EwsXml.T, "Mailbox") ? child(mb, EwsXml.T, "EmailAddress") : null;
      if (addr == null) {
        throw schema("Recipients must be t:Mailbox elements with t:EmailAddress.");
      }
      String a = addr.getTextContent().trim();
      int at = a.lastIndexOf('@');
      if (at <= 0 || at == a.length() - 1 || a.contains(" ")) {
        throw new Answer(Reply.xml(200, EwsXml.responseError("CreateItem", "ErrorInvalidSmtpAddress",
            EwsXml.text("ErrorInvalidSmtpAddress"), null)));
      }
      out.add(a);
    }
    return out;
  }

  /** xs:base64Binary allows whitespace between characters; anything else must be strict RFC 4648 base64. */
  static byte[] decodeBase64(String s) {
    boolean ws = false;
    for (int i = 0; i < s.length() && !ws; i++) {
      char c = s.charAt(i);
      ws = c == ' ' || c == '\t' || c == '\r' || c == '\n';
    }
    if (ws) {
      StringBuilder sb = new StringBuilder(s.length());
      for (int i = 0; i < s.length(); i++) {
        char c = s.charAt(i);
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
          sb.append(c);
        }
      }
      s = sb.toString();
    }
    if (s.length() % 4 != 0) {
      // java.util.Base64 tolerates missing padding; .NET's Convert.FromBase64String (Exchange) does not.
      throw new IllegalArgumentException("base64 length is not a multiple of 4");
    }
    return Base64.getDecoder().decode(s);
  }

  /** The first line of an RFC 5322 message is a header field: printable name, then ':' (RFC 5322 2.2). */
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

  // ---- helpers ---------------------------------------------------------------------------------

  private Reply error(String code, String message) {
    return Reply.xml(200, EwsXml.responseError("CreateItem", code, message == null ? EwsXml.text(code) : message,
        null));
  }

  private static Reply faultReply(String code, String message, Long backOff) {
    return Reply.xml(500, EwsXml.fault(code, message == null ? EwsXml.text(code) : message, backOff, null, null));
  }

  private static Answer fault(String code, String message) {
    return new Answer(faultReply(code, message, null));
  }

  private static Answer schema(String detail) {
    // Line/Position: the sandbox does not track element positions after parsing; 0 marks "unknown".
    return new Answer(Reply.xml(500, EwsXml.fault("ErrorSchemaValidation",
        "The request failed schema validation: " + detail, null, 0, 0)));
  }

  private static Document parse(Buffer body) throws SAXException, IOException {
    // one builder per thread, reset before each use: making a new one per request was a twentieth of the
    // sandbox's CPU (DocumentBuilder is not thread-safe; reset() restores the factory's settings)
    DocumentBuilder b = BUILDER.get();
    b.reset();
    b.setErrorHandler(null);
    b.setEntityResolver((p, s) -> {
      throw new SAXException("external entities are not allowed");
    });
    // Read straight from the request buffer: no extra copy of a possibly huge body.
    try (InputStream in = body == null ? new ByteArrayInputStream(new byte[0])
        : body instanceof BufferInternal bi ? new ByteBufInputStream(bi.getByteBuf().duplicate())
        : new ByteArrayInputStream(body.getBytes())) {
      return b.parse(in);
    }
  }

  private static final DocumentBuilderFactory FACTORY = factory();
  private static final ThreadLocal<DocumentBuilder> BUILDER = ThreadLocal.withInitial(() -> {
    try {
      return FACTORY.newDocumentBuilder();
    } catch (ParserConfigurationException e) {
      throw new IllegalStateException(e);
    }
  });

  /** Namespace-aware and hardened (OWASP XXE prevention): no DTDs, no external entities, no XInclude. */
  private static DocumentBuilderFactory factory() {
    DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
    f.setNamespaceAware(true);
    f.setXIncludeAware(false);
    f.setExpandEntityReferences(false);
    try {
      f.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
      f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
      f.setFeature("http://xml.org/sax/features/external-general-entities", false);
      f.setFeature("http://xml.org/sax/features/external-parameter-entities", false);
      f.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
      f.setAttribute(XMLConstants.ACCESS_EXTERNAL_DTD, "");
      f.setAttribute(XMLConstants.ACCESS_EXTERNAL_SCHEMA, "");
    } catch (ParserConfigurationException e) {
      throw new IllegalStateException(e);
    }
    return f;
  }

  private static boolean is(Element e, String ns, String local) {
    return e != null && ns.equals(e.getNamespaceURI()) && local.equals(e.getLocalName());
  }

  private static Element child(Element parent, String ns, String local) {
    for (Element c = firstChild(parent); c != null; c = nextSibling(c)) {
      if (is(c, ns, local)) {
        return c;
      }
    }
    return null;
  }

  private static Element firstChild(Element e) {
    for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element el) {
        return el;
      }
    }
    return null;
  }

  private static Element nextSibling(Element e) {
    for (Node n = e.getNextSibling(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element el) {
        return el;
      }
    }
    return null;
  }
}
