package io.relay365.deliver;

import io.relay365.tls.CertificateAuthority;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.net.PemKeyCertOptions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/** A minimal HTTPS EWS endpoint for transport tests: answers canned replies in order, records requests. */
final class FakeEws implements AutoCloseable {
  static final String SUCCESS = """
      <?xml version="1.0" encoding="utf-8"?>
      <s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">
        <s:Header><h:ServerVersionInfo MajorVersion="15" MinorVersion="20" MajorBuildNumber="7000" MinorBuildNumber="20"
            Version="V2018_01_08" xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types"/></s:Header>
        <s:Body><m:CreateItemResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"
            xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
          <m:ResponseMessages><m:CreateItemResponseMessage ResponseClass="Success">
            <m:ResponseCode>NoError</m:ResponseCode><m:Items/>
          </m:CreateItemResponseMessage></m:ResponseMessages>
        </m:CreateItemResponse></s:Body>
      </s:Envelope>""";

  static final String SEND_AS_DENIED = """
      <?xml version="1.0" encoding="utf-8"?>
      <s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">
        <s:Header><h:ServerVersionInfo MajorVersion="15" MinorVersion="20" MajorBuildNumber="7000" MinorBuildNumber="20"
            Version="V2018_01_08" xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types"/></s:Header>
        <s:Body><m:CreateItemResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"
            xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
          <m:ResponseMessages><m:CreateItemResponseMessage ResponseClass="Error">
            <m:MessageText>The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account.</m:MessageText>
            <m:ResponseCode>ErrorSendAsDenied</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey><m:Items/>
          </m:CreateItemResponseMessage></m:ResponseMessages>
        </m:CreateItemResponse></s:Body>
      </s:Envelope>""";

  static final String SERVER_BUSY_FAULT = """
      <?xml version="1.0" encoding="utf-8"?>
      <s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>
        <faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:ErrorServerBusy</faultcode>
        <faultstring xml:lang="en-US">The server cannot service this request right now. Try again later.</faultstring>
        <detail>
          <e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">ErrorServerBusy</e:ResponseCode>
          <e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">The server cannot service this request right now. Try again later.</e:Message>
          <t:MessageXml xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:Value Name="BackOffMilliseconds">297749</t:Value></t:MessageXml>
        </detail>
      </s:Fault></s:Body></s:Envelope>""";

  record Reply(int status, Map<String, String> headers, String body, Duration delay) {
    static Reply xml(int status, String body) {
      return new Reply(status, Map.of("Content-Type", "text/xml; charset=utf-8"), body, Duration.ZERO);
    }

    static Reply empty(int status, Map<String, String> headers) {
      return new Reply(status, headers, "", Duration.ZERO);
    }

    Reply delayed(Duration d) {
      return new Reply(status, headers, body, d);
    }
  }

  record Request(MultiMap headers, String body) {}

  final ConcurrentLinkedQueue<Reply> replies = new ConcurrentLinkedQueue<>();
  final List<Request> requests = new CopyOnWriteArrayList<>();
  private final HttpServer server;

  FakeEws(Vertx vertx, CertificateAuthority.Issued cert) throws Exception {
    server = vertx.createHttpServer(new HttpServerOptions().setSsl(true).setKeyCertOptions(
        new PemKeyCertOptions().setCertValue(Buffer.buffer(cert.certificatePem()))
            .setKeyValue(Buffer.buffer(cert.keyPem()))));
    server.requestHandler(req -> req.body().onSuccess(body -> {
      requests.add(new Request(MultiMap.caseInsensitiveMultiMap().addAll(req.headers()), body.toString()));
      Reply r = replies.poll();
      if (r == null) {
        r = Reply.xml(200, SUCCESS);
      }
      Reply reply = r;
      Runnable answer = () -> {
        req.response().setStatusCode(reply.status());
        reply.headers().forEach(req.response()::putHeader);
        req.response().end(reply.body());
      };
      if (reply.delay().isZero()) {
        answer.run();
      } else {
        vertx.setTimer(reply.delay().toMillis(), t -> answer.run());
      }
    }));
    server.listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS);
  }

  String url() {
    return "https://localhost:" + server.actualPort() + "/EWS/Exchange.asmx";
  }

  @Override
  public void close() {
    server.close();
  }
}
