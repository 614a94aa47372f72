package io.relay365.sandbox;

import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One message the sandbox accepted. {@code mime} is what the recipients see: for EWS exactly the decoded
 * MimeContent; for Graph the decoded MIME without its Bcc: header (or, for a draft, the message Exchange
 * assembled from it and its attachments); for SMTP the dot-unstuffed DATA. {@code emlFile} holds the same
 * bytes. {@code tokenId} is the jti of the bearer token that sent it; {@code transport} is "ews", "graph" or
 * "smtp", and {@code path} how a Graph message came in: "sendMail" or "draft+upload" (null otherwise).
 *
 * <p>SMTP submission ({@code transport} "smtp"): {@code mailbox} is the authenticated (XOAUTH2 user=)
 * mailbox, {@code envelopeSender} the MAIL FROM, {@code envelopeRecipients} every RCPT TO, and
 * {@code bccRecipients} those of them in no To:/Cc: header; anchorMailbox and disposition are null.
 */
public record ReceivedMessage(int seq, String mailbox, String anchorMailbox, String disposition,
    List<String> bccRecipients, String tokenId, byte[] mime, Path emlFile, String transport, String path,
    String envelopeSender, List<String> envelopeRecipients) {

  public ReceivedMessage {
    bccRecipients = List.copyOf(bccRecipients);
    transport = transport == null ? "ews" : transport;
    envelopeRecipients = envelopeRecipients == null ? List.of() : List.copyOf(envelopeRecipients);
  }

  /** A message received through EWS (no SMTP envelope). */
  public ReceivedMessage(int seq, String mailbox, String anchorMailbox, String disposition,
      List<String> bccRecipients, String tokenId, byte[] mime, Path emlFile) {
    this(seq, mailbox, anchorMailbox, disposition, bccRecipients, tokenId, mime, emlFile, "ews", null, null, null);
  }

  /** The Subject header (unfolded, RFC 2047 decoded), or null if there is none. */
  public String subject() {
    return header("Subject");
  }

  /** The first header field called {@code name} (RFC 5322 2.2.3 unfolding, RFC 2047 decoding), or null. */
  public String header(String name) {
    String text = new String(mime, StandardCharsets.ISO_8859_1);
    int end = text.indexOf("\r\n\r\n");
    if (end < 0) {
      end = text.indexOf("\n\n");
    }
    String head = end < 0 ? text : text.substring(0, end);
    String unfolded = head.replaceAll("\r?\n(?=[ \t])", "");
    for (String line : unfolded.split("\r?\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase(name)) {
        String raw = new String(line.substring(colon + 1).trim().getBytes(StandardCharsets.ISO_8859_1),
            StandardCharsets.UTF_8);
        return decodeEncodedWords(raw);
      }
    }
    return null;
  }

  private static final Pattern ENCODED_WORD =
      Pattern.compile("=\\?([^?]+)\\?([bBqQ])\\?([^?]*)\\?=(\\s+(?==\\?))?");

  /** RFC 2047 encoded-words (B and Q); whitespace between adjacent encoded-words is dropped (RFC 2047 6.2). */
  static String decodeEncodedWords(String s) {
    Matcher m = ENCODED_WORD.matcher(s);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      String decoded;
      try {
        Charset cs = Charset.forName(m.group(1).replaceAll("\\*.*", ""));
        byte[] bytes;
        if (m.group(2).equalsIgnoreCase("B")) {
          bytes = Base64.getMimeDecoder().decode(m.group(3));
        } else {
          java.io.ByteArrayOutputStream bo = new java.io.ByteArrayOutputStream();
          String t = m.group(3);
          for (int i = 0; i < t.length(); i++) {
            char c = t.charAt(i);
            if (c == '_') {
              bo.write(' ');
            } else if (c == '=' && i + 2 < t.length()) {
              bo.write(Integer.parseInt(t.substring(i + 1, i + 3), 16));
              i += 2;
            } else {
              bo.write(c);
            }
          }
          bytes = bo.toByteArray();
        }
        decoded = new String(bytes, cs);
      } catch (RuntimeException e) {
        decoded = m.group();
      }
      m.appendReplacement(out, Matcher.quoteReplacement(decoded));
    }
    m.appendTail(out);
    return out.toString();
  }
}
