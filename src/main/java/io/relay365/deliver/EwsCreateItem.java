package io.relay365.deliver;

import io.relay365.config.Settings;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;

/**
 * The CreateItem request of microsoft-wire.md §2.2, written as a stream: the SOAP envelope around the
 * message's base64, encoded while it is read from the spool, so that a 50 MB message costs a few buffers
 * of heap instead of the whole request several times over (ews-java-api builds the MIME, its base64
 * String, the XML and the entity in memory: libraries.md §4).
 *
 * <p>Same request as ews-java-api 2.0 sends (prefixes and element order included): RequestServerVersion
 * Exchange2010_SP2, ExchangeImpersonation/ConnectingSID/SmtpAddress, MessageDisposition and, for
 * SendAndSaveCopy, SavedItemFolderId sentitems before Items; in t:Message, MimeContent (an ItemType
 * element) before BccRecipients (a MessageType element), the schema's order. Its length is known before
 * it is written (Content-Length, as ews-java-api sends; no chunked encoding).
 */
final class EwsCreateItem {
  private static final String SOAP = "http://schemas.xmlsoap.org/soap/envelope/";
  private static final String T = "http://schemas.microsoft.com/exchange/services/2006/types";
  private static final String M = "http://schemas.microsoft.com/exchange/services/2006/messages";

  /** The cleaned MIME: its exact length, and a fresh stream of it for each attempt (a 401 retry resends). */
  interface Mime {
    long length();

    InputStream open() throws IOException;
  }

  private final byte[] head;
  private final byte[] tail;
  private final Mime mime;

  EwsCreateItem(String mailbox, Settings.Disposition disposition, Mime mime, List<String> bcc) {
    this.mime = mime;
    boolean save = disposition == Settings.Disposition.SEND_AND_SAVE_COPY;
    StringBuilder h = new StringBuilder(1024)
        .append("<?xml version=\"1.0\" encoding=\"utf-8\"?>")
        .append("<soap:Envelope xmlns:soap=\"").append(SOAP).append("\" xmlns:t=\"").append(T)
        .append("\" xmlns:m=\"").append(M).append("\">")
        .append("<soap:Header><t:RequestServerVersion Version=\"Exchange2010_SP2\"/>")
        .append("<t:ExchangeImpersonation><t:ConnectingSID><t:SmtpAddress>").append(escape(mailbox))
        .append("</t:SmtpAddress></t:ConnectingSID></t:ExchangeImpersonation></soap:Header>")
        .append("<soap:Body><m:CreateItem MessageDisposition=\"").append(save ? "SendAndSaveCopy" : "SendOnly")
        .append("\">");
    if (save) {
      h.append("<m:SavedItemFolderId><t:DistinguishedFolderId Id=\"sentitems\"/></m:SavedItemFolderId>");
    }
    h.append("<m:Items><t:Message><t:MimeContent CharacterSet=\"UTF-8\">");
    StringBuilder t = new StringBuilder(256).append("</t:MimeContent>");
    if (!bcc.isEmpty()) {
      t.append("<t:BccRecipients>");
      for (String r : bcc) {
        t.append("<t:Mailbox><t:EmailAddress>").append(escape(r)).append("</t:EmailAddress></t:Mailbox>");
      }
      t.append("</t:BccRecipients>");
    }
    t.append("</t:Message></m:Items></m:CreateItem></soap:Body></soap:Envelope>");
    this.head = h.toString().getBytes(StandardCharsets.UTF_8);
    this.tail = t.toString().getBytes(StandardCharsets.UTF_8);
  }

  /** Bytes of the whole request: base64 without line breaks is 4 characters per started 3 bytes. */
  long length() {
    return head.length + (mime.length() + 2) / 3 * 4 + tail.length;
  }

  /** Writes the request; the MIME is read and encoded 48 KB at a time (a multiple of 3: no padding inside). */
  void writeTo(OutputStream out) throws IOException {
    out.write(head);
    Base64.Encoder b64 = Base64.getEncoder();
    byte[] in = new byte[48 * 1024];
    byte[] enc = new byte[64 * 1024];
    long left = mime.length();
    try (InputStream src = mime.open()) {
      while (left > 0) {
        int n = src.readNBytes(in, 0, (int) Math.min(in.length, left));
        if (n <= 0) {
          throw new IOException("the message is shorter than its announced length (changed on disk?)");
        }
        left -= n;
        if (n < in.length && left > 0) {
          throw new IOException("short read from the spooled message");
        }
        int m = b64.encode(n == in.length ? in : java.util.Arrays.copyOf(in, n), enc);
        out.write(enc, 0, m);
      }
    }
    out.write(tail);
  }

  /** XML character data and attribute values: the five predefined entities (XML 1.0 §2.4). */
  static String escape(String s) {
    StringBuilder b = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      String r = switch (c) {
        case '&' -> "&amp;";
        case '<' -> "&lt;";
        case '>' -> "&gt;";
        case '"' -> "&quot;";
        case '\'' -> "&apos;";
        default -> null;
      };
      if (r != null && b == null) {
        b = new StringBuilder(s.length() + 16).append(s, 0, i);
      }
      if (b != null) {
        if (r != null) {
          b.append(r);
        } else {
          b.append(c);
        }
      }
    }
    return b == null ? s : b.toString();
  }
}
