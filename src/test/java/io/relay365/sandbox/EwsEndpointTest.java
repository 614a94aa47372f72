package io.relay365.sandbox;

import static io.relay365.sandbox.SandboxFixture.b64;
import static io.relay365.sandbox.SandboxFixture.createItem;
import static io.relay365.sandbox.SandboxFixture.impersonate;
import static io.relay365.sandbox.SandboxFixture.mimeAndBcc;
import static io.relay365.sandbox.SandboxFixture.validCreateItem;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.relay365.sandbox.SandboxFixture.StrictTlsExchangeService;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import microsoft.exchange.webservices.data.core.ExchangeService;
import microsoft.exchange.webservices.data.core.enumeration.misc.ConnectingIdType;
import microsoft.exchange.webservices.data.core.enumeration.misc.ExchangeVersion;
import microsoft.exchange.webservices.data.core.enumeration.property.WellKnownFolderName;
import microsoft.exchange.webservices.data.core.exception.http.HttpErrorException;
import microsoft.exchange.webservices.data.core.exception.service.remote.ServiceResponseException;
import microsoft.exchange.webservices.data.core.service.folder.Folder;
import microsoft.exchange.webservices.data.core.service.item.EmailMessage;
import microsoft.exchange.webservices.data.misc.ImpersonatedUserId;
import microsoft.exchange.webservices.data.property.complex.MimeContent;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The sandbox EWS against the real ews-java-api 2.0 client (strict TLS), plus raw SOAP for malformed requests. */
class EwsEndpointTest {
  static final String BOX = "app@contoso.com";

  @TempDir
  static Path dir;
  static SandboxFixture f;
  static String token;

  @BeforeAll
  static void start() throws Exception {
    f = new SandboxFixture(dir);
    StrictTlsExchangeService.context = f.tls;
    token = f.token();
  }

  @AfterAll
  static void stop() throws Exception {
    f.close();
  }

  @BeforeEach
  void reset() {
    f.sandbox.faults().reset();
  }

  private ExchangeService service(String bearer, String mailbox) throws Exception {
    ExchangeService svc = new StrictTlsExchangeService(ExchangeVersion.Exchange2010_SP2);
    svc.setUrl(URI.create(f.sandbox.ewsUrl()));
    svc.setTimeout(20_000);
    svc.getHttpHeaders().put("Authorization", "Bearer " + bearer);
    svc.getHttpHeaders().put("X-AnchorMailbox", mailbox);
    svc.setImpersonatedUserId(new ImpersonatedUserId(ConnectingIdType.SmtpAddress, mailbox));
    return svc;
  }

  private void send(String bearer, String mime, boolean saveCopy, String... bcc) throws Exception {
    try (ExchangeService svc = service(bearer, BOX)) {
      EmailMessage msg = new EmailMessage(svc);
      msg.setMimeContent(new MimeContent("UTF-8", mime.getBytes(StandardCharsets.UTF_8)));
      for (String b : bcc) {
        msg.getBccRecipients().add(b);
      }
      if (saveCopy) {
        msg.sendAndSaveCopy();
      } else {
        msg.send();
      }
    }
  }

  /** The ResponseCode ews-java-api reports, wherever it sits in the cause chain. */
  private static String errorCode(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof ServiceResponseException s) {
        return s.getErrorCode().name();
      }
    }
    throw new AssertionError("no ServiceResponseException in", t);
  }

  private static Integer httpStatus(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof HttpErrorException h) {
        return h.getHttpErrorCode();
      }
    }
    return null;
  }

  @Test
  void ewsJavaApiSendsMimeWithBccAndTheSandboxStoresItExactly() throws Exception {
    String mime = "From: app@contoso.com\r\nTo: a@example.com\r\nSubject: =?UTF-8?B?w6ljaG8=?= test\r\n\r\nbody\r\n";
    int before = f.sandbox.received().size();
    send(token, mime, false, "hidden@example.com", "other@example.org");

    List<ReceivedMessage> all = f.sandbox.received();
    assertThat(all).hasSize(before + 1);
    ReceivedMessage m = all.get(all.size() - 1);
    assertThat(m.mailbox()).isEqualTo(BOX);
    assertThat(m.anchorMailbox()).isEqualTo(BOX);
    assertThat(m.disposition()).isEqualTo("SendOnly");
    assertThat(m.bccRecipients()).containsExactly("hidden@example.com", "other@example.org");
    assertThat(m.mime()).isEqualTo(mime.getBytes(StandardCharsets.UTF_8));
    assertThat(m.subject()).isEqualTo("écho test");
    assertThat(m.tokenId()).isEqualTo(Jwt.parse(token).string("jti"));
    assertThat(m.emlFile()).hasFileName(String.format("%06d.eml", m.seq())).hasBinaryContent(m.mime());
    JsonObject meta = new JsonObject(Files.readString(m.emlFile().resolveSibling(String.format("%06d.json", m.seq()))));
    assertThat(meta.getString("mailbox")).isEqualTo(BOX);
    assertThat(meta.getJsonArray("bcc")).isEqualTo(new JsonArray().add("hidden@example.com").add("other@example.org"));
    assertThat(meta.getInteger("size")).isEqualTo(m.mime().length);
    assertThat(meta.getString("receivedAt")).isNotBlank();
  }

  @Test
  void sendAndSaveCopyIsRecordedAndOutlookAudienceIsAccepted() throws Exception {
    send(f.token("https://outlook.office365.com/.default"), SandboxFixture.MIME, true);
    assertThat(f.sandbox.received().get(f.sandbox.received().size() - 1).disposition()).isEqualTo("SendAndSaveCopy");
  }

  @Test
  void getFolderOnTheInboxSucceeds() throws Exception {
    try (ExchangeService svc = service(token, BOX)) {
      Folder inbox = Folder.bind(svc, WellKnownFolderName.Inbox);
      assertThat(inbox.getDisplayName()).isEqualTo("Inbox");
    }
  }

  @ParameterizedTest(name = "{0} soap={1}")
  @CsvSource({
      "ErrorServerBusy, true", "ErrorServerBusy, false",
  })
  void busyReachesEwsJavaApiInBothShapes(String code, boolean soap) throws Exception {
    f.sandbox.faults().ewsBusy(1, 1234, soap);
    Throwable t = catchThrowable(() -> send(token, SandboxFixture.MIME, false));
    assertThat(errorCode(t)).isEqualTo("ErrorServerBusy");
    send(token, SandboxFixture.MIME, false); // the fault was for one call only
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
      "ErrorAccessDenied, 500", "ErrorImpersonateUserDenied, 500", "ErrorSendAsDenied, 200",
      "ErrorMessageSizeExceeded, 200", "ErrorQuotaExceeded, 200", "ErrorInternalServerError, 200",
  })
  void injectedErrorsArriveWithTheirCodeAndShape(String code, int status) throws Exception {
    f.sandbox.faults().ewsError(code, 2);
    Throwable t = catchThrowable(() -> send(token, SandboxFixture.MIME, false));
    assertThat(errorCode(t)).isEqualTo(code);
    HttpResponse<String> raw = f.ews(validCreateItem(BOX), "Authorization", "Bearer " + token, "X-AnchorMailbox", BOX);
    assertThat(raw.statusCode()).isEqualTo(status);
    assertThat(raw.headers().firstValue("Content-Type")).hasValue("text/xml; charset=utf-8");
    assertThat(raw.body()).contains(code);
  }

  @Test
  void busyAsSoapFaultCarriesBackOffMilliseconds() throws Exception {
    f.sandbox.faults().ewsBusy(1, 297749, true);
    HttpResponse<String> r = f.ews(validCreateItem(BOX), "Authorization", "Bearer " + token, "X-AnchorMailbox", BOX);
    assertThat(r.statusCode()).isEqualTo(500);
    assertThat(r.body()).contains("<faultcode xmlns:a=\"http://schemas.microsoft.com/exchange/services/2006/types\">"
        + "a:ErrorServerBusy</faultcode>").contains("<t:Value Name=\"BackOffMilliseconds\">297749</t:Value>");
  }

  @Test
  void tokenWithoutRolesIs401ForEwsJavaApi() throws Exception {
    f.sandbox.faults().rolesInToken(List.of());
    String noRoles = f.token();
    f.sandbox.faults().reset();
    Throwable t = catchThrowable(() -> send(noRoles, SandboxFixture.MIME, false));
    assertThat(httpStatus(t)).isEqualTo(401);
    HttpResponse<String> r = f.ews(validCreateItem(BOX), "Authorization", "Bearer " + noRoles, "X-AnchorMailbox", BOX);
    assertThat(r.headers().firstValue("x-ms-diagnostics")).hasValueSatisfying(v -> assertThat(v)
        .startsWith("2000008;reason=\"The token contains no permissions"));
    assertThat(r.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v)
        .startsWith("Bearer client_id=\"00000002-0000-0ff1-ce00-000000000000\"").endsWith("error=\"invalid_token\""));
  }

  // ---- raw requests --------------------------------------------------------------------------------

  private HttpResponse<String> raw(String body) throws Exception {
    return f.ews(body, "Authorization", "Bearer " + token, "X-AnchorMailbox", BOX);
  }

  private static void assertResponseError(HttpResponse<String> r, String code) {
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("ResponseClass=\"Error\"").contains("<m:ResponseCode>" + code + "</m:ResponseCode>")
        .contains("<s:Header>");
  }

  private static void assertFault(HttpResponse<String> r, String code) {
    assertThat(r.statusCode()).isEqualTo(500);
    assertThat(r.body()).contains("a:" + code + "</faultcode>").contains(">" + code + "</e:ResponseCode>");
  }

  @Test
  void strictCreateItemValidation() throws Exception {
    String imp = impersonate("PrimarySmtpAddress", BOX);
    String good = mimeAndBcc(b64(SandboxFixture.MIME), "hidden@example.com");
    int before = f.sandbox.received().size();

    assertResponseError(raw(createItem(imp, "SendOnly", "", mimeAndBcc("!!not base64!!", null))),
        "ErrorMimeContentInvalidBase64String");
    assertResponseError(raw(createItem(imp, "SendOnly", "", mimeAndBcc("RnJvbTog", null).replace("RnJvbTog", "RnJvbTo"))),
        "ErrorMimeContentInvalidBase64String"); // bad padding: strict decoder
    assertResponseError(raw(createItem(imp, "SendOnly", "", mimeAndBcc("", null))), "ErrorMimeContentInvalid");
    assertResponseError(raw(createItem(imp, null, "", good)), "ErrorMessageDispositionRequired");
    assertResponseError(raw(createItem(imp, "SendAndSaveCopy", "", good)), "ErrorSavedItemFolderNotFound");
    assertResponseError(raw(createItem(imp, "SaveOnly", "", good)), "ErrorInvalidOperation");
    // BccRecipients before MimeContent: out of schema order
    assertFault(raw(createItem(imp, "SendOnly", "", "<t:BccRecipients><t:Mailbox><t:EmailAddress>h@example.com"
        + "</t:EmailAddress></t:Mailbox></t:BccRecipients><t:MimeContent>" + b64(SandboxFixture.MIME)
        + "</t:MimeContent>")), "ErrorSchemaValidation");
    // SavedItemFolderId after Items
    assertFault(raw(createItem(imp, "SendAndSaveCopy", "", good).replace("</m:Items>",
        "</m:Items><m:SavedItemFolderId><t:DistinguishedFolderId Id=\"sentitems\"/></m:SavedItemFolderId>")),
        "ErrorSchemaValidation");
    assertFault(raw(createItem("", "SendOnly", "", good)), "ErrorInvalidExchangeImpersonationHeaderData");
    assertThat(raw(createItem("", "SendOnly", "", good)).body())
        .contains("ExchangeImpersonation SOAP header must be present for this type of OAuth token.");
    assertFault(raw("<not-xml"), "ErrorSchemaValidation");
    assertFault(raw("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>"
        + createItem(imp, "SendOnly", "", good).replace("<?xml version=\"1.0\" encoding=\"utf-8\"?>", "")),
        "ErrorSchemaValidation"); // no DTDs, so no XXE

    assertThat(f.sandbox.received()).hasSize(before); // nothing above was accepted

    // every impersonation form, and SendAndSaveCopy done right
    for (String el : List.of("SmtpAddress", "PrincipalName", "PrimarySmtpAddress")) {
      assertThat(raw(createItem(impersonate(el, BOX), "SendOnly", "", good)).statusCode()).isEqualTo(200);
    }
    HttpResponse<String> ok = raw(createItem(imp, "SendAndSaveCopy",
        "<m:SavedItemFolderId><t:DistinguishedFolderId Id=\"sentitems\"/></m:SavedItemFolderId>", good));
    assertThat(ok.statusCode()).isEqualTo(200);
    assertThat(ok.body()).contains("<s:Header><h:ServerVersionInfo").contains("ResponseClass=\"Success\"")
        .contains("<m:ResponseCode>NoError</m:ResponseCode>");
    assertThat(f.sandbox.received()).hasSize(before + 4);
  }

  @Test
  void anchorMailboxMustBePresentAndMatch() throws Exception {
    String body = validCreateItem(BOX);
    HttpResponse<String> missing = f.ews(body, "Authorization", "Bearer " + token);
    assertThat(missing.statusCode()).isEqualTo(503);
    assertThat(missing.body()).isEmpty();
    assertFault(f.ews(body, "Authorization", "Bearer " + token, "X-AnchorMailbox", "someone@contoso.com"),
        "ErrorInternalServerError");
    assertThat(f.ews(body, "Authorization", "Bearer " + token, "X-AnchorMailbox", "APP@Contoso.com").statusCode())
        .isEqualTo(200); // case-insensitive
  }

  @Test
  void bearerTokenChecks() throws Exception {
    String body = validCreateItem(BOX);
    var key = f.sandboxTokenKey();
    long now = Instant.now().getEpochSecond();
    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
    g.initialize(2048);
    var forger = g.generateKeyPair().getPrivate();

    record Case(String name, String auth, int status, String diagnostics) {}
    List<Case> cases = new ArrayList<>(List.of(
        new Case("none", null, 401, null),
        new Case("garbage", "Bearer not-a-jwt", 401, "2000001;"),
        new Case("forged", "Bearer " + f.craftToken(f.validClaims(), forger), 401, "2000001;"),
        new Case("expired", "Bearer " + f.craftToken(f.validClaims().put("exp", now - 10), key), 401, "2000009;"),
        new Case("other tenant", "Bearer " + f.craftToken(f.validClaims().put("tid", "11111111-2222-3333-4444-555555555555"), key), 401, "2000007;"),
        new Case("graph audience", "Bearer " + f.token("https://graph.microsoft.com/.default"), 401, "2000003;"),
        new Case("other role", "Bearer " + f.craftToken(f.validClaims().put("roles", new JsonArray().add("Mail.Send")), key), 403, "2000008;"),
        new Case("valid crafted", "Bearer " + f.craftToken(f.validClaims(), key), 200, null)));
    for (Case c : cases) {
      HttpResponse<String> r = c.auth() == null ? f.ews(body, "X-AnchorMailbox", BOX)
          : f.ews(body, "Authorization", c.auth(), "X-AnchorMailbox", BOX);
      assertThat(r.statusCode()).as(c.name()).isEqualTo(c.status());
      if (c.diagnostics() != null) {
        assertThat(r.headers().firstValue("x-ms-diagnostics")).as(c.name())
            .hasValueSatisfying(v -> assertThat(v).startsWith(c.diagnostics()));
      }
      if (c.status() == 401) {
        assertThat(r.headers().firstValue("WWW-Authenticate")).as(c.name()).isPresent();
        assertThat(r.body()).as(c.name()).isEmpty();
      }
    }
  }

  @Test
  void contentTypeMustBeTextXml() throws Exception {
    HttpResponse<String> r = f.ews(validCreateItem(BOX), "Authorization", "Bearer " + token, "X-AnchorMailbox", BOX,
        "Content-Type", "application/soap+xml");
    assertThat(r.statusCode()).isEqualTo(415);
  }

  @Test
  void mailboxAndTenantFaults() throws Exception {
    f.sandbox.faults().denyMailbox("blocked@contoso.com").unknownMailbox("ghost@contoso.com");
    HttpResponse<String> denied = f.ews(validCreateItem("blocked@contoso.com"), "Authorization", "Bearer " + token,
        "X-AnchorMailbox", "blocked@contoso.com");
    assertThat(denied.statusCode()).isEqualTo(403);
    assertThat(denied.body()).isEmpty();
    assertFault(f.ews(validCreateItem("ghost@contoso.com"), "Authorization", "Bearer " + token,
        "X-AnchorMailbox", "ghost@contoso.com"), "ErrorNonExistentMailbox");
    assertThat(raw(validCreateItem(BOX)).statusCode()).isEqualTo(200);

    Throwable t = catchThrowable(() -> {
      try (ExchangeService svc = service(token, "ghost@contoso.com")) {
        EmailMessage m = new EmailMessage(svc);
        m.setMimeContent(new MimeContent("UTF-8", SandboxFixture.MIME.getBytes(StandardCharsets.UTF_8)));
        m.send();
      }
    });
    assertThat(errorCode(t)).isEqualTo("ErrorNonExistentMailbox");

    f.sandbox.faults().ewsDisabled(true);
    assertThat(raw(validCreateItem(BOX)).statusCode()).isEqualTo(403);
    f.sandbox.faults().ewsDisabled(false).ewsHttpStatus(503, 2);
    assertThat(raw(validCreateItem(BOX)).statusCode()).isEqualTo(503);
    assertThat(raw(validCreateItem(BOX)).statusCode()).isEqualTo(503);
    assertThat(raw(validCreateItem(BOX)).statusCode()).isEqualTo(200);
  }

  @Test
  void concurrencyCapPerMailbox() throws Exception {
    f.sandbox.faults().maxConcurrentPerMailbox(1).latency(Duration.ofMillis(700));
    CompletableFuture<HttpResponse<String>> first = CompletableFuture.supplyAsync(() -> {
      try {
        return raw(validCreateItem(BOX));
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5))
        .until(() -> f.sandbox.ewsRequests() > 0 && !first.isDone());
    // the first call holds its slot for 700 ms; a second one in that window is refused
    HttpResponse<String> second = null;
    for (int i = 0; i < 20 && (second == null || second.statusCode() == 200) && !first.isDone(); i++) {
      second = raw(validCreateItem(BOX));
    }
    assertThat(second).isNotNull();
    assertFault(second, "ErrorExceededConnectionCount");
    assertThat(first.get().statusCode()).isEqualTo(200);
  }

  @Test
  void controlEndpointSetsFaultsOverHttps() throws Exception {
    HttpResponse<String> set = f.http.send(HttpRequest.newBuilder(URI.create(f.sandbox.loginUrl() + "/_sandbox/faults"))
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"reset\":true,\"ewsError\":{\"responseCode\":\"ErrorSendAsDenied\","
            + "\"count\":1}}")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(set.statusCode()).isEqualTo(200);
    assertThat(new JsonObject(set.body()).getJsonObject("ewsError").getString("responseCode"))
        .isEqualTo("ErrorSendAsDenied");
    assertResponseError(raw(validCreateItem(BOX)), "ErrorSendAsDenied");
    assertThat(raw(validCreateItem(BOX)).statusCode()).isEqualTo(200);
    HttpResponse<String> get = f.http.send(HttpRequest.newBuilder(URI.create(f.sandbox.loginUrl() + "/_sandbox/faults"))
        .GET().build(), HttpResponse.BodyHandlers.ofString());
    assertThat(new JsonObject(get.body()).containsKey("ewsError")).isFalse();
  }

  @Test
  void largeMessageOf10MbIsAccepted() throws Exception {
    StringBuilder sb = new StringBuilder("From: app@contoso.com\r\nTo: a@example.com\r\nSubject: big\r\n\r\n");
    String line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\r\n";
    while (sb.length() < 10 * 1024 * 1024) {
      sb.append(line);
    }
    send(token, sb.toString(), false);
    ReceivedMessage m = f.sandbox.received().get(f.sandbox.received().size() - 1);
    assertThat(m.mime()).hasSize(sb.length());
    assertThat(m.subject()).isEqualTo("big");
  }
}
