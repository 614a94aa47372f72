package io.relay365.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import io.relay365.sandbox.GraphFaults.Op;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sandbox's Graph is as strict as Microsoft Graph where it matters (microsoft-wire.md §3, §6). */
class GraphEndpointTest {
  static final String MB = "scanner@contoso.example";
  static final String MIME = "From: scanner@contoso.example\r\nTo: alice@contoso.example\r\n"
      + "Bcc: hidden@partner.example, Other <other@partner.example>\r\nSubject: hi\r\n\r\nbody\r\n";

  @TempDir
  static java.nio.file.Path dir;
  static SandboxFixture f;
  static String token;

  @BeforeAll
  static void start() throws Exception {
    f = new SandboxFixture(dir);
    token = f.token(f.sandbox.graphUrl() + "/.default");
  }

  @AfterAll
  static void stop() throws Exception {
    f.close();
  }

  @BeforeEach
  void reset() {
    f.sandbox.faults().reset();
  }

  static String users(String mailbox) {
    return f.sandbox.graphUrl() + "/v1.0/users/" + mailbox;
  }

  HttpResponse<String> call(String method, String url, String contentType, byte[] body, String bearer,
      String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
    if (contentType != null) {
      b.header("Content-Type", contentType);
    }
    if (bearer != null) {
      b.header("Authorization", "Bearer " + bearer);
    }
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return f.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> sendMail(String mailbox, String mime, String bearer) throws Exception {
    return call("POST", users(mailbox) + "/sendMail", "text/plain", b64(mime), bearer);
  }

  static byte[] b64(String s) {
    return Base64.getEncoder().encode(s.getBytes(StandardCharsets.UTF_8));
  }

  static JsonObject error(HttpResponse<String> r) {
    return new JsonObject(r.body()).getJsonObject("error");
  }

  // ---- sendMail ------------------------------------------------------------------------------------

  @Test
  void sendMailStoresWhatRecipientsSeeAndRecordsTheBcc() throws Exception {
    int before = f.sandbox.received().size();
    HttpResponse<String> r = sendMail(MB, MIME, token);
    assertThat(r.statusCode()).isEqualTo(202);
    assertThat(r.body()).isEmpty();
    ReceivedMessage m = f.sandbox.received().get(before);
    assertThat(m.transport()).isEqualTo("graph");
    assertThat(m.path()).isEqualTo("sendMail");
    assertThat(m.mailbox()).isEqualTo(MB);
    assertThat(m.bccRecipients()).containsExactly("hidden@partner.example", "other@partner.example");
    assertThat(new String(m.mime(), StandardCharsets.UTF_8)).isEqualTo(MIME.replaceAll("Bcc: [^\r]*\r\n", ""));
    assertThat(Files.readAllBytes(m.emlFile())).isEqualTo(m.mime());
    JsonObject meta = new JsonObject(Files.readString(m.emlFile().resolveSibling(
        m.emlFile().getFileName().toString().replace(".eml", ".json"))));
    assertThat(meta.getString("transport")).isEqualTo("graph");
    assertThat(meta.getString("path")).isEqualTo("sendMail");
    assertThat(meta.getJsonArray("bcc")).containsExactly("hidden@partner.example", "other@partner.example");
    assertThat(meta.getString("tokenId")).isNotBlank();
  }

  @Test
  void theMimeMustBeBase64TextPlain() throws Exception {
    HttpResponse<String> json = call("POST", users(MB) + "/sendMail", "application/json",
        "{\"message\":{}}".getBytes(StandardCharsets.UTF_8), token);
    assertThat(json.statusCode()).isEqualTo(415);

    HttpResponse<String> bad = call("POST", users(MB) + "/sendMail", "text/plain",
        "not*base64!".getBytes(StandardCharsets.US_ASCII), token);
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(error(bad).getString("code")).isEqualTo("ErrorMimeContentInvalidBase64String");
    assertThat(error(bad).getString("message")).isEqualTo("Invalid base64 string for MIME content.");
    assertThat(error(bad).getJsonObject("innerError").getString("request-id")).isNotBlank();

    // .NET's decoder wants padding
    String unpadded = new String(b64(MIME + "x"), StandardCharsets.US_ASCII).replace("=", "");
    assertThat(call("POST", users(MB) + "/sendMail", "text/plain", unpadded.getBytes(StandardCharsets.US_ASCII),
        token).statusCode()).isEqualTo(400);
  }

  @Test
  void aRequestAboveFourMegabytesIsRefused() throws Exception {
    String big = "From: a@contoso.example\r\nTo: b@contoso.example\r\n\r\n" + "x".repeat(3_200_000);
    HttpResponse<String> r = sendMail(MB, big, token);
    assertThat(r.statusCode()).isEqualTo(413);
  }

  @Test
  void aMessageWithoutRecipientsOrHeaderIsRefused() throws Exception {
    assertThat(error(sendMail(MB, "Subject: nobody\r\n\r\nx\r\n", token)).getString("code"))
        .isEqualTo("ErrorInvalidRecipients");
    assertThat(sendMail(MB, "", token).statusCode()).isEqualTo(400);
  }

  // ---- the bearer token ----------------------------------------------------------------------------

  @Test
  void theBearerMustBeAValidGraphTokenOfThisTenant() throws Exception {
    HttpResponse<String> none = sendMail(MB, MIME, null);
    assertThat(none.statusCode()).isEqualTo(401);
    assertThat(error(none).getString("code")).isEqualTo("InvalidAuthenticationToken");
    assertThat(error(none).getString("message")).isEqualTo("Access token is empty.");
    assertThat(none.headers().firstValue("WWW-Authenticate")).isPresent();

    // a token for Exchange Online (EWS's resource) is refused like Graph refuses it
    HttpResponse<String> exchange = sendMail(MB, MIME, f.token());
    assertThat(exchange.statusCode()).isEqualTo(401);
    assertThat(error(exchange).getString("message")).contains("Invalid audience");

    // the real Graph resource is accepted as well as the sandbox's own origin
    assertThat(sendMail(MB, MIME, f.token("https://graph.microsoft.com/.default")).statusCode()).isEqualTo(202);

    JsonObject expired = f.validClaims().put("aud", f.sandbox.graphUrl())
        .put("roles", new JsonArray().add("Mail.Send")).put("exp", Instant.now().getEpochSecond() - 10);
    assertThat(error(sendMail(MB, MIME, f.craftToken(expired, f.sandboxTokenKey()))).getString("message"))
        .isEqualTo("Lifetime validation failed, the token is expired.");

    JsonObject otherTenant = f.validClaims().put("aud", f.sandbox.graphUrl())
        .put("roles", new JsonArray().add("Mail.Send")).put("tid", "11111111-2222-3333-4444-555555555555");
    assertThat(sendMail(MB, MIME, f.craftToken(otherTenant, f.sandboxTokenKey())).statusCode()).isEqualTo(401);

    java.security.KeyPairGenerator g = java.security.KeyPairGenerator.getInstance("RSA");
    g.initialize(2048);
    JsonObject claims = f.validClaims().put("aud", f.sandbox.graphUrl()).put("roles", new JsonArray().add("Mail.Send"));
    assertThat(sendMail(MB, MIME, f.craftToken(claims, g.generateKeyPair().getPrivate())).statusCode())
        .as("signed with another key").isEqualTo(401);
  }

  @Test
  void rolesAreCheckedPerOperation() throws Exception {
    f.sandbox.faults().rolesInToken(List.of());
    HttpResponse<String> none = sendMail(MB, MIME, f.token(f.sandbox.graphUrl() + "/.default"));
    assertThat(none.statusCode()).isEqualTo(401);
    assertThat(error(none).getString("message")).isEqualTo("Either scp or roles claim need to be present in the token.");

    f.sandbox.faults().rolesInToken(List.of("Mail.ReadWrite"));
    String readWriteOnly = f.token(f.sandbox.graphUrl() + "/.default");
    HttpResponse<String> denied = sendMail(MB, MIME, readWriteOnly);
    assertThat(denied.statusCode()).isEqualTo(403);
    assertThat(error(denied).getString("code")).isEqualTo("ErrorAccessDenied");
    assertThat(error(denied).getString("message")).isEqualTo("Access is denied. Check credentials and try again.");

    f.sandbox.faults().rolesInToken(List.of("Mail.Send"));
    String sendOnly = f.token(f.sandbox.graphUrl() + "/.default");
    assertThat(sendMail(MB, MIME, sendOnly).statusCode()).isEqualTo(202);
    HttpResponse<String> draft = call("POST", users(MB) + "/messages", "text/plain", b64(MIME), sendOnly);
    assertThat(draft.statusCode()).as("drafts need Mail.ReadWrite").isEqualTo(403);
    assertThat(error(draft).getString("message")).isEqualTo("Access is denied. Check credentials and try again.");
  }

  @Test
  void aTokenForTheSandboxGraphCarriesTheGraphRoles() throws Exception {
    String[] parts = token.split("\\.");
    JsonObject claims = new JsonObject(new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8));
    assertThat(claims.getString("aud")).isEqualTo(f.sandbox.graphUrl());
    assertThat(claims.getJsonArray("roles")).containsExactly("Mail.Send", "Mail.ReadWrite");
  }

  // ---- mailboxes -----------------------------------------------------------------------------------

  @Test
  void anAccessPolicyDenialHasTheExactBodyOfMicrosoft() throws Exception {
    f.sandbox.faults().denyMailbox("fax@contoso.example");
    HttpResponse<String> r = sendMail("fax@contoso.example", MIME, token);
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(r.body()).isEqualTo("{\"error\":{\"code\":\"ErrorAccessDenied\",\"message\":\"Access to OData is"
        + " disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.\"}}");
  }

  @Test
  void anUnknownMailboxIsAnInvalidUser() throws Exception {
    f.sandbox.faults().unknownMailbox("nobody@contoso.example");
    HttpResponse<String> r = sendMail("nobody@contoso.example", MIME, token);
    assertThat(r.statusCode()).isEqualTo(404);
    assertThat(error(r).getString("code")).isEqualTo("ErrorInvalidUser");
    assertThat(error(r).getString("message")).isEqualTo("The requested user 'nobody@contoso.example' is invalid.");
    assertThat(sendMail("not-an-address", MIME, token).statusCode()).isEqualTo(404);
  }

  @Test
  void thePathIsPercentDecodedAndTheQuotedFormWorks() throws Exception {
    assertThat(call("POST", users("scan%2Bfax@contoso.example") + "/sendMail", "text/plain", b64(MIME), token)
        .statusCode()).isEqualTo(202);
    assertThat(f.sandbox.received().get(f.sandbox.received().size() - 1).mailbox())
        .isEqualTo("scan+fax@contoso.example");
    assertThat(call("POST", f.sandbox.graphUrl() + "/v1.0/users('%24svc%27%27x@contoso.example')/sendMail",
        "text/plain", b64(MIME), token).statusCode()).isEqualTo(202);
    assertThat(f.sandbox.received().get(f.sandbox.received().size() - 1).mailbox())
        .isEqualTo("$svc'x@contoso.example");
    HttpResponse<String> unknown = call("POST", users(MB) + "/sendMessage", "text/plain", b64(MIME), token);
    assertThat(unknown.statusCode()).isEqualTo(400);
    assertThat(error(unknown).getString("message")).isEqualTo("Resource not found for the segment 'sendMessage'.");
  }

  // ---- throttling ----------------------------------------------------------------------------------

  @Test
  void moreThanFourConcurrentRequestsPerMailboxAreThrottled() throws Exception {
    f.sandbox.faults().graph().latency(Duration.ofMillis(700));
    List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      HttpRequest req = HttpRequest.newBuilder(URI.create(users(MB) + "/sendMail")).timeout(Duration.ofSeconds(30))
          .header("Content-Type", "text/plain").header("Authorization", "Bearer " + token)
          .POST(HttpRequest.BodyPublishers.ofByteArray(b64(MIME))).build();
      all.add(f.http.sendAsync(req, HttpResponse.BodyHandlers.ofString()));
    }
    List<Integer> statuses = new ArrayList<>();
    for (CompletableFuture<HttpResponse<String>> r : all) {
      HttpResponse<String> resp = r.get();
      statuses.add(resp.statusCode());
      if (resp.statusCode() == 429) {
        assertThat(error(resp).getString("code")).isEqualTo("ApplicationThrottled");
        assertThat(resp.headers().firstValue("Retry-After")).isPresent();
      }
    }
    assertThat(statuses).filteredOn(s -> s == 202).hasSize(4);
    assertThat(statuses).filteredOn(s -> s == 429).hasSize(2);
    // other mailboxes are not affected, and the slots are free again afterwards
    assertThat(sendMail("other@contoso.example", MIME, token).statusCode()).isEqualTo(202);
    f.sandbox.faults().graph().latency(Duration.ZERO);
    assertThat(sendMail(MB, MIME, token).statusCode()).isEqualTo(202);
  }

  @Test
  void faultsCanBeSetAsJsonAndThrottleWithRetryAfter() throws Exception {
    HttpRequest req = HttpRequest.newBuilder(URI.create(f.sandbox.loginUrl() + "/_sandbox/faults"))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
            "{\"graph\":{\"throttle\":{\"retryAfterSeconds\":9,\"count\":1,\"on\":\"sendMail\"},"
                + "\"error\":{\"status\":503,\"retryAfterSeconds\":4,\"count\":1,\"on\":\"createDraft\"}}}")).build();
    HttpResponse<String> applied = f.http.send(req, HttpResponse.BodyHandlers.ofString());
    assertThat(applied.statusCode()).isEqualTo(200);
    assertThat(new JsonObject(applied.body()).getJsonObject("graph").getJsonObject("throttle").getInteger("count"))
        .isEqualTo(1);

    HttpResponse<String> draft = call("POST", users(MB) + "/messages", "text/plain", b64(MIME), token);
    assertThat(draft.statusCode()).isEqualTo(503);
    assertThat(draft.headers().firstValue("Retry-After")).hasValue("4");
    HttpResponse<String> throttled = sendMail(MB, MIME, token);
    assertThat(throttled.statusCode()).isEqualTo(429);
    assertThat(throttled.headers().firstValue("Retry-After")).hasValue("9");
    JsonObject e = error(throttled);
    assertThat(e.getString("code")).isEqualTo("TooManyRequests");
    assertThat(e.getString("message")).isEqualTo("Please retry again later.");
    assertThat(e.getJsonObject("innerError").getString("status")).isEqualTo("429");
    assertThat(sendMail(MB, MIME, token).statusCode()).as("counted: once only").isEqualTo(202);

    HttpResponse<String> stats = f.http.send(HttpRequest.newBuilder(URI.create(f.sandbox.loginUrl()
        + "/_sandbox/stats")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(new JsonObject(stats.body()).getInteger("graphRequests")).isEqualTo(f.sandbox.graphRequests())
        .isPositive();
  }

  // ---- the large-message path ----------------------------------------------------------------------

  String createDraft(String mime) throws Exception {
    HttpResponse<String> r = call("POST", users(MB) + "/messages", "text/plain", b64(mime), token);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    return new JsonObject(r.body()).getString("id");
  }

  HttpResponse<String> put(String url, byte[] chunk, String range, String... headers) throws Exception {
    return call("PUT", url, "application/octet-stream", chunk, null, concat(headers, "Content-Range", range));
  }

  static String[] concat(String[] a, String... b) {
    String[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  @Test
  void aDraftWithAnUploadedAttachmentIsSentAsOneMessage() throws Exception {
    String id = createDraft(MIME);
    byte[] small = "small,csv\r\n".getBytes(StandardCharsets.US_ASCII);
    JsonObject att = new JsonObject().put("@odata.type", "#microsoft.graph.fileAttachment").put("name", "a.csv")
        .put("contentType", "text/csv").put("contentBytes", Base64.getEncoder().encodeToString(small));
    assertThat(call("POST", users(MB) + "/messages/" + id + "/attachments", "application/json",
        att.encode().getBytes(StandardCharsets.UTF_8), token).statusCode()).isEqualTo(201);

    byte[] pdf = new byte[9_000_000];
    new Random(5).nextBytes(pdf);
    JsonObject session = new JsonObject().put("AttachmentItem", new JsonObject().put("attachmentType", "file")
        .put("name", "scan.pdf").put("size", pdf.length).put("contentType", "application/pdf"));
    HttpResponse<String> s = call("POST", users(MB) + "/messages/" + id + "/attachments/createUploadSession",
        "application/json", session.encode().getBytes(StandardCharsets.UTF_8), token);
    assertThat(s.statusCode()).isEqualTo(201);
    JsonObject upload = new JsonObject(s.body());
    String url = upload.getString("uploadUrl");
    assertThat(url).startsWith(f.sandbox.loginUrl() + "/api/v2.0/").contains("?authtoken=")
        .doesNotStartWith(f.sandbox.graphUrl());
    assertThat(upload.getJsonArray("nextExpectedRanges")).containsExactly("0-");

    int chunk = 4 * 1024 * 1024;
    // pre-authenticated: a request with Authorization is refused
    assertThat(call("PUT", url, "application/octet-stream", Arrays.copyOfRange(pdf, 0, 1000), token,
        "Content-Range", "bytes 0-999/" + pdf.length).statusCode()).isEqualTo(401);
    // more than 4 MB in one chunk
    assertThat(put(url, Arrays.copyOfRange(pdf, 0, chunk + 1), "bytes 0-" + chunk + "/" + pdf.length).statusCode())
        .isEqualTo(413);
    // a range that does not match the body
    assertThat(put(url, Arrays.copyOfRange(pdf, 0, 1000), "bytes 0-1999/" + pdf.length).statusCode()).isEqualTo(400);
    // a wrong token in the URL
    assertThat(put(url.replaceAll("authtoken=.*$", "authtoken=forged"), Arrays.copyOfRange(pdf, 0, 1000),
        "bytes 0-999/" + pdf.length).statusCode()).isEqualTo(404);

    HttpResponse<String> first = put(url, Arrays.copyOfRange(pdf, 0, chunk), "bytes 0-" + (chunk - 1) + "/" + pdf.length);
    assertThat(first.statusCode()).isEqualTo(200);
    assertThat(new JsonObject(first.body()).getJsonArray("nextExpectedRanges")).containsExactly(chunk + "-");
    // a gap: the next chunk must start where the last one ended
    assertThat(put(url, Arrays.copyOfRange(pdf, chunk + 10, chunk + 20), "bytes " + (chunk + 10) + "-"
        + (chunk + 19) + "/" + pdf.length).statusCode()).isEqualTo(416);
    assertThat(put(url, Arrays.copyOfRange(pdf, chunk, 2 * chunk), "bytes " + chunk + "-" + (2 * chunk - 1) + "/"
        + pdf.length).statusCode()).isEqualTo(200);
    HttpResponse<String> last = put(url, Arrays.copyOfRange(pdf, 2 * chunk, pdf.length), "bytes " + 2 * chunk + "-"
        + (pdf.length - 1) + "/" + pdf.length);
    assertThat(last.statusCode()).isEqualTo(201);
    assertThat(last.headers().firstValue("Location")).isPresent();

    int before = f.sandbox.received().size();
    assertThat(call("POST", users(MB) + "/messages/" + id + "/send", null, new byte[0], token).statusCode())
        .isEqualTo(202);
    ReceivedMessage m = f.sandbox.received().get(before);
    assertThat(m.path()).isEqualTo("draft+upload");
    assertThat(m.bccRecipients()).containsExactly("hidden@partner.example", "other@partner.example");
    jakarta.mail.internet.MimeMessage got = new jakarta.mail.internet.MimeMessage(
        jakarta.mail.Session.getInstance(new java.util.Properties()), new java.io.ByteArrayInputStream(m.mime()));
    assertThat(got.getHeader("Bcc")).isNull();
    jakarta.mail.Multipart mp = (jakarta.mail.Multipart) got.getContent();
    assertThat(mp.getCount()).isEqualTo(3);
    assertThat(mp.getBodyPart(2).getFileName()).isEqualTo("scan.pdf");
    assertThat(mp.getBodyPart(2).getInputStream().readAllBytes()).isEqualTo(pdf);
    assertThat(f.sandbox.graphDrafts()).as("a sent draft leaves Drafts").isZero();
    // the draft is gone: sending or deleting it again finds nothing
    assertThat(call("POST", users(MB) + "/messages/" + id + "/send", null, new byte[0], token).statusCode())
        .isEqualTo(404);
  }

  @Test
  void uploadSessionsAreForThreeMegabytesAndMore() throws Exception {
    String id = createDraft(MIME);
    JsonObject session = new JsonObject().put("AttachmentItem", new JsonObject().put("attachmentType", "file")
        .put("name", "small.pdf").put("size", 100_000));
    HttpResponse<String> r = call("POST", users(MB) + "/messages/" + id + "/attachments/createUploadSession",
        "application/json", session.encode().getBytes(StandardCharsets.UTF_8), token);
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(error(r).getString("code")).isEqualTo("ErrorAttachmentSizeShouldNotBeLessThanMinimumSize");
    assertThat(call("DELETE", users(MB) + "/messages/" + id, null, null, token).statusCode()).isEqualTo(204);
    assertThat(call("DELETE", users(MB) + "/messages/" + id, null, null, token).statusCode()).isEqualTo(404);
    assertThat(f.sandbox.graphDrafts()).isZero();
  }

  @Test
  void sendingADraftOverMaxSendSizeIsRefused() throws Exception {
    f.sandbox.faults().maxMessageSize(1000);
    String id = createDraft(MIME + "x".repeat(2000));
    HttpResponse<String> r = call("POST", users(MB) + "/messages/" + id + "/send", null, new byte[0], token);
    assertThat(r.statusCode()).isEqualTo(413);
    assertThat(error(r).getString("code")).isEqualTo("ErrorMessageSizeExceeded");
    assertThat(call("DELETE", users(MB) + "/messages/" + id, null, null, token).statusCode()).isEqualTo(204);
  }

  @Test
  void anotherMailboxCannotTouchADraft() throws Exception {
    String id = createDraft(MIME);
    assertThat(call("DELETE", users("other@contoso.example") + "/messages/" + id, null, null, token).statusCode())
        .isEqualTo(404);
    assertThat(call("DELETE", users(MB) + "/messages/" + id, null, null, token).statusCode()).isEqualTo(204);
  }

  // ---- doctor's calls ------------------------------------------------------------------------------

  @Test
  void doctorsHarmlessCalls() throws Exception {
    HttpResponse<String> org = call("GET", f.sandbox.graphUrl() + "/v1.0/organization", null, null, token);
    assertThat(org.statusCode()).isEqualTo(403);
    assertThat(error(org).getString("code")).isEqualTo("Authorization_RequestDenied");
    assertThat(call("GET", f.sandbox.graphUrl() + "/v1.0/organization", null, null, f.token()).statusCode())
        .as("an Exchange token").isEqualTo(401);
    assertThat(call("GET", users(MB) + "/mailFolders/drafts", null, null, token).statusCode()).isEqualTo(200);
    f.sandbox.faults().denyMailbox("fax@contoso.example");
    assertThat(call("GET", users("fax@contoso.example") + "/mailFolders/drafts", null, null, token).statusCode())
        .isEqualTo(403);
  }
}
