package io.relay365.sandbox;

import jakarta.activation.DataHandler;
import jakarta.mail.BodyPart;
import jakarta.mail.MessagingException;
import jakarta.mail.Multipart;
import jakarta.mail.Part;
import jakarta.mail.Session;
import jakarta.mail.internet.AddressException;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.InternetHeaders;
import jakarta.mail.internet.MimeBodyPart;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import jakarta.mail.util.ByteArrayDataSource;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The drafts and upload sessions of the sandbox's Graph (microsoft-wire.md §3, large-message path): a
 * draft is the MIME it was created from plus the attachments added to it; sending it assembles the message
 * Exchange would send. Also the Bcc handling both Graph paths share: Exchange sends to a Bcc: header of a
 * MIME message and never shows it to the recipients.
 */
final class GraphDrafts {
  private static final SecureRandom RANDOM = new SecureRandom();

  /** One attachment of a draft. */
  record Attachment(String id, String name, String contentType, boolean inline, String contentId, byte[] bytes) {}

  /** A draft message of one mailbox. */
  static final class Draft {
    final String id;
    final String mailbox;
    final byte[] mime;
    final List<Attachment> attachments = Collections.synchronizedList(new ArrayList<>());

    Draft(String id, String mailbox, byte[] mime) {
      this.id = id;
      this.mailbox = mailbox;
      this.mime = mime;
    }
  }

  /** An upload session: the URL's token, what it uploads, and how far it got. */
  static final class Upload {
    final String id;
    final String authToken;
    final Draft draft;
    final String name;
    final String contentType;
    final boolean inline;
    final String contentId;
    final long size;
    final ByteArrayOutputStream data = new ByteArrayOutputStream();
    long next;

    Upload(String id, String authToken, Draft draft, String name, String contentType, boolean inline,
        String contentId, long size) {
      this.id = id;
      this.authToken = authToken;
      this.draft = draft;
      this.name = name;
      this.contentType = contentType;
      this.inline = inline;
      this.contentId = contentId;
      this.size = size;
    }
  }

  private final Map<String, Draft> drafts = new ConcurrentHashMap<>();
  private final Map<String, Upload> uploads = new ConcurrentHashMap<>();

  Draft create(String mailbox, byte[] mime) {
    Draft d = new Draft(newId("AAMkAD"), mailbox.toLowerCase(Locale.ROOT), mime);
    drafts.put(d.id, d);
    return d;
  }

  /** The draft {@code id} of {@code mailbox}, or null (another mailbox's draft is not found either). */
  Draft get(String mailbox, String id) {
    Draft d = drafts.get(id);
    return d != null && d.mailbox.equalsIgnoreCase(mailbox) ? d : null;
  }

  Draft remove(String mailbox, String id) {
    Draft d = get(mailbox, id);
    if (d != null) {
      drafts.remove(id);
      uploads.values().removeIf(u -> u.draft == d);
    }
    return d;
  }

  Attachment attach(Draft d, String name, String contentType, boolean inline, String contentId, byte[] bytes) {
    Attachment a = new Attachment(newId("AAMkADAt"), name, contentType, inline, contentId, bytes);
    d.attachments.add(a);
    return a;
  }

  Upload startUpload(Draft d, String name, String contentType, boolean inline, String contentId, long size) {
    Upload u = new Upload(newId("AAMkADUs"), newId(""), d, name, contentType, inline, contentId, size);
    uploads.put(u.id, u);
    return u;
  }

  Upload upload(String id) {
    return uploads.get(id);
  }

  void finishUpload(Upload u) {
    uploads.remove(u.id);
  }

  int count() {
    return drafts.size();
  }

  private static String newId(String prefix) {
    byte[] b = new byte[24];
    RANDOM.nextBytes(b);
    return prefix + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  // ---- sending ---------------------------------------------------------------------------------

  /**
   * The message a draft becomes when sent: its MIME with the attachments added (inline ones into the
   * multipart/related that holds the HTML, others to a multipart/mixed), as Exchange assembles it. The
   * Message-ID of the MIME is kept.
   */
  static byte[] assemble(Draft d) throws MessagingException, IOException {
    List<Attachment> atts;
    synchronized (d.attachments) {
      atts = new ArrayList<>(d.attachments);
    }
    if (atts.isEmpty()) {
      return d.mime;
    }
    MimeMessage msg = new MimeMessage(Session.getInstance(new Properties()), new ByteArrayInputStream(d.mime));
    String messageId = msg.getHeader("Message-ID", null);
    MimeMultipart mixed;
    if (msg.isMimeType("multipart/mixed")) {
      mixed = (MimeMultipart) msg.getContent();
    } else {
      mixed = new MimeMultipart("mixed");
      mixed.addBodyPart(bodyOf(msg));
      msg.removeHeader("Content-Transfer-Encoding");
      msg.setContent(mixed);
    }
    Multipart related = findRelated(mixed);
    for (Attachment a : atts) {
      MimeBodyPart p = new MimeBodyPart();
      p.setDataHandler(new DataHandler(new ByteArrayDataSource(a.bytes(), a.contentType())));
      p.setFileName(a.name());
      p.setDisposition(a.inline() ? Part.INLINE : Part.ATTACHMENT);
      if (a.contentId() != null && !a.contentId().isEmpty()) {
        p.setContentID("<" + a.contentId() + ">");
      }
      p.setHeader("Content-Transfer-Encoding", "base64");
      (a.inline() && related != null ? related : mixed).addBodyPart(p);
    }
    msg.saveChanges();
    if (messageId != null) {
      msg.setHeader("Message-ID", messageId); // saveChanges() makes a new one
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(d.mime.length + atts.stream()
        .mapToInt(a -> a.bytes().length * 4 / 3 + 1024).sum());
    msg.writeTo(out);
    return out.toByteArray();
  }

  /** The content of a message as a body part (its Content-* headers and raw body). */
  private static MimeBodyPart bodyOf(MimeMessage msg) throws MessagingException, IOException {
    InternetHeaders h = new InternetHeaders();
    for (Enumeration<jakarta.mail.Header> e = msg.getAllHeaders(); e.hasMoreElements(); ) {
      jakarta.mail.Header x = e.nextElement();
      if (x.getName().toLowerCase(Locale.ROOT).startsWith("content-")) {
        h.addHeader(x.getName(), x.getValue());
      }
    }
    byte[] raw;
    try (var in = msg.getRawInputStream()) {
      raw = in.readAllBytes();
    }
    return new MimeBodyPart(h, raw);
  }

  private static Multipart findRelated(Multipart mp) throws MessagingException, IOException {
    for (int i = 0; i < mp.getCount(); i++) {
      BodyPart p = mp.getBodyPart(i);
      if (p.isMimeType("multipart/related")) {
        return (Multipart) p.getContent();
      }
      if (p.isMimeType("multipart/*")) {
        Multipart inner = findRelated((Multipart) p.getContent());
        if (inner != null) {
          return inner;
        }
      }
    }
    return null;
  }

  // ---- Bcc ---------------------------------------------------------------------------------------

  /** A message without its top-level Bcc: fields, and the addresses they held. */
  record Split(byte[] visible, List<String> bcc) {}

  /**
   * Removes the top-level Bcc: header fields (with their folded lines) and returns their addresses:
   * what recipients see, and who else Exchange sends to (microsoft-wire.md §3: MIME sends honour Bcc).
   */
  static Split splitBcc(byte[] mime) {
    List<String> bcc = new ArrayList<>();
    ByteArrayOutputStream out = new ByteArrayOutputStream(mime.length);
    int pos = 0;
    int n = mime.length;
    boolean dropping = false;
    StringBuilder value = null;
    while (pos < n) {
      int end = pos;
      while (end < n && mime[end] != '\n') {
        end++;
      }
      int next = end < n ? end + 1 : n;
      boolean empty = end == pos || (end == pos + 1 && mime[pos] == '\r');
      if (empty) {
        break;
      }
      boolean continuation = mime[pos] == ' ' || mime[pos] == '\t';
      if (!continuation) {
        if (dropping) {
          addresses(value.toString(), bcc);
        }
        dropping = startsWithBcc(mime, pos, end);
        value = dropping ? new StringBuilder(new String(mime, pos + 4, end - pos - 4, StandardCharsets.UTF_8))
            : null;
      } else if (dropping) {
        value.append(' ').append(new String(mime, pos, end - pos, StandardCharsets.UTF_8).strip());
      }
      if (!dropping) {
        out.write(mime, pos, next - pos);
      }
      pos = next;
    }
    if (dropping) {
      addresses(value.toString(), bcc);
    }
    out.write(mime, pos, n - pos);
    return new Split(bcc.isEmpty() && out.size() == n ? mime : out.toByteArray(), bcc);
  }

  private static boolean startsWithBcc(byte[] b, int start, int end) {
    return end - start >= 4 && (b[start] | 0x20) == 'b' && (b[start + 1] | 0x20) == 'c'
        && (b[start + 2] | 0x20) == 'c' && b[start + 3] == ':';
  }

  private static void addresses(String value, List<String> into) {
    try {
      for (InternetAddress a : InternetAddress.parseHeader(value.strip(), false)) {
        if (a.getAddress() != null && !a.getAddress().isEmpty()) {
          into.add(a.getAddress());
        }
      }
    } catch (AddressException e) {
      for (String s : value.split(",")) {
        if (!s.isBlank()) {
          into.add(s.strip());
        }
      }
    }
  }

  /** Whether the top-level header names anyone to send to (To, Cc or Bcc). */
  static boolean hasRecipients(byte[] mime) {
    try {
      InternetHeaders h = new InternetHeaders(new ByteArrayInputStream(mime));
      for (String name : List.of("To", "Cc", "Bcc")) {
        String v = h.getHeader(name, ",");
        if (v != null && v.contains("@")) {
          return true;
        }
      }
      return false;
    } catch (MessagingException e) {
      return false;
    }
  }
}
