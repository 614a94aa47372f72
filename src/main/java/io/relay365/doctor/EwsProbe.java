package io.relay365.doctor;

import io.relay365.config.Settings;
import io.relay365.deliver.StrictTlsExchangeService;
import java.io.IOException;
import java.net.URI;
import java.util.HashMap;
import java.util.Map;
import javax.net.ssl.SSLContext;
import microsoft.exchange.webservices.data.core.ExchangeService;
import microsoft.exchange.webservices.data.core.enumeration.misc.ConnectingIdType;
import microsoft.exchange.webservices.data.core.enumeration.misc.ExchangeVersion;
import microsoft.exchange.webservices.data.core.enumeration.property.WellKnownFolderName;
import microsoft.exchange.webservices.data.core.exception.http.HttpErrorException;
import microsoft.exchange.webservices.data.core.exception.service.remote.ServiceResponseException;
import microsoft.exchange.webservices.data.core.service.folder.Folder;
import microsoft.exchange.webservices.data.misc.ImpersonatedUserId;

/**
 * Harmless EWS calls for the doctor: GetFolder on the inbox, which reads nothing but the folder's
 * name and counts. With impersonation it answers what Test-ApplicationAccessPolicy answers for a
 * mailbox; without it, it only tests whether EWS lets this app in at all.
 */
final class EwsProbe implements AutoCloseable {

  /** What came back: success, an EWS ResponseCode, an HTTP status, or a local failure. */
  record Result(boolean success, String responseCode, int httpStatus, String diagnostics, Throwable error) {}

  private final ExchangeService svc;

  EwsProbe(Settings.Ews ews, SSLContext tls) {
    svc = StrictTlsExchangeService.create(ExchangeVersion.Exchange2010_SP2, tls);
    svc.setUrl(URI.create(ews.url()));
    svc.setTimeout((int) Math.min(60_000, ews.timeout().toMillis()));
    svc.setTraceEnabled(false); // tracing would print the bearer token (libraries.md §4)
  }

  /** GetFolder(inbox) as {@code mailbox}, or without impersonation when {@code mailbox} is null. */
  Result inbox(String token, String mailbox) {
    svc.getHttpHeaders().put("Authorization", "Bearer " + token);
    if (mailbox == null) {
      svc.getHttpHeaders().remove("X-AnchorMailbox");
      svc.setImpersonatedUserId(null);
    } else {
      svc.getHttpHeaders().put("X-AnchorMailbox", mailbox);
      svc.setImpersonatedUserId(new ImpersonatedUserId(ConnectingIdType.SmtpAddress, mailbox));
    }
    svc.getHttpResponseHeaders().clear();
    try {
      Folder.bind(svc, WellKnownFolderName.Inbox);
      return new Result(true, "NoError", 200, null, null);
    } catch (Exception e) {
      Map<String, String> headers = new HashMap<>(svc.getHttpResponseHeaders());
      String diag = null;
      for (Map.Entry<String, String> h : headers.entrySet()) {
        if (h.getKey() != null && h.getKey().equalsIgnoreCase("x-ms-diagnostics")) {
          diag = h.getValue();
        }
      }
      ServiceResponseException sre = find(e, ServiceResponseException.class);
      if (sre != null) {
        return new Result(false, String.valueOf(sre.getErrorCode()), 0, diag, e);
      }
      HttpErrorException http = find(e, HttpErrorException.class);
      if (http != null) {
        return new Result(false, null, http.getHttpErrorCode(), diag, e);
      }
      return new Result(false, null, 0, diag, e);
    }
  }

  static <T extends Throwable> T find(Throwable error, Class<T> type) {
    Throwable e = error;
    for (int depth = 0; e != null && depth < 20; depth++) {
      if (type.isInstance(e)) {
        return type.cast(e);
      }
      e = e.getCause() == e ? null : e.getCause();
    }
    return null;
  }

  static boolean isTls(Throwable e) {
    return find(e, javax.net.ssl.SSLException.class) != null
        || find(e, java.security.cert.CertificateException.class) != null;
  }

  static boolean isNetwork(Throwable e) {
    return find(e, IOException.class) != null;
  }

  @Override
  public void close() {
    svc.close();
  }
}
