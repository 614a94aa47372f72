package io.relay365.receive;

import java.net.IDN;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Parses the arguments of MAIL and RCPT (RFC 5321 4.1.2, with RFC 6531 for UTF-8): the path and the
 * ESMTP parameters. subethasmtp's own parser ignores unknown parameters and can throw on nested
 * brackets; this one either returns a result or throws {@link SmtpReply}, for any input.
 * Lenient where old devices differ harmlessly from the RFC (a space after the colon, a path without
 * angle brackets); strict where it matters (parameter syntax, lengths, domains).
 */
final class SmtpArgs {
  /** RFC 5321 4.5.3.1: local part 64 octets, domain 255, path 256. */
  static final int MAX_LOCAL = 64;
  static final int MAX_DOMAIN = 255;
  static final int MAX_PATH = 256;

  /** The address as sent (source route removed; "" = the null path), whether it has non-ASCII, the parameters. */
  record Parsed(String address, boolean nonAscii, Map<String, String> params) {}

  private SmtpArgs() {}

  /** "MAIL FROM:&lt;a@b&gt; SIZE=1" (the whole command line); the null path &lt;&gt; is allowed. */
  static Parsed mail(String line) throws SmtpReply {
    return parse(line, "FROM:", true);
  }

  /** "RCPT TO:&lt;a@b&gt; NOTIFY=NEVER"; the null path is not allowed, bare "postmaster" is (RFC 5321 4.5.1). */
  static Parsed rcpt(String line) throws SmtpReply {
    return parse(line, "TO:", false);
  }

  private static Parsed parse(String line, String keyword, boolean mail) throws SmtpReply {
    String syntax = mail ? "Syntax: MAIL FROM:<address> [parameters]" : "Syntax: RCPT TO:<address> [parameters]";
    String rest = line.length() > 4 ? line.substring(4).stripLeading() : "";
    if (!rest.regionMatches(true, 0, keyword, 0, keyword.length())) {
      throw new SmtpReply(501, "5.5.4 " + syntax);
    }
    rest = rest.substring(keyword.length()).stripLeading();
    String path;
    int end;
    if (rest.startsWith("<")) {
      end = closingBracket(rest);
      if (end < 0) {
        throw new SmtpReply(501, "5.1.7 Bad address syntax: no closing '>'");
      }
      path = rest.substring(1, end);
      end++;
    } else {
      end = rest.indexOf(' ');
      end = end < 0 ? rest.length() : end;
      path = rest.substring(0, end);
      if (path.isEmpty()) {
        throw new SmtpReply(501, "5.5.4 " + syntax);
      }
    }
    if (end < rest.length() && rest.charAt(end) != ' ') {
      throw new SmtpReply(501, "5.5.4 " + syntax);
    }
    if (path.getBytes(StandardCharsets.UTF_8).length > MAX_PATH) {
      throw new SmtpReply(501, "5.1.3 Address too long");
    }
    String address = address(stripSourceRoute(path), mail);
    boolean nonAscii = !isAscii(address);
    return new Parsed(address, nonAscii, params(rest.substring(end)));
  }

  /** The index of the '>' closing the path, skipping quoted strings; -1 if none. */
  private static int closingBracket(String s) {
    boolean quoted = false;
    for (int i = 1; i < s.length(); i++) {
      char c = s.charAt(i);
      if (quoted && c == '\\') {
        i++;
      } else if (c == '"') {
        quoted = !quoted;
      } else if (!quoted && c == '>') {
        return i;
      } else if (!quoted && c == '<') {
        return -1;
      }
    }
    return -1;
  }

  /** RFC 5321 4.1.2 / C: "@a,@b:user@c" is user@c; source routes must be accepted and ignored. */
  private static String stripSourceRoute(String path) throws SmtpReply {
    if (!path.startsWith("@")) {
      return path;
    }
    int colon = path.indexOf(':');
    if (colon < 0) {
      throw new SmtpReply(501, "5.1.3 Bad address syntax");
    }
    return path.substring(colon + 1);
  }

  private static String address(String a, boolean mail) throws SmtpReply {
    if (a.isEmpty()) {
      if (mail) {
        return "";
      }
      throw new SmtpReply(501, "5.1.3 Bad recipient address syntax: empty");
    }
    int at = lastAtOutsideQuotes(a);
    if (at < 0) {
      if (!mail && a.equalsIgnoreCase("postmaster")) {
        return a;
      }
      throw new SmtpReply(501, "5.1.3 Bad address syntax: no domain");
    }
    String local = a.substring(0, at);
    String domain = a.substring(at + 1);
    checkLocal(local);
    checkDomain(domain);
    return a;
  }

  private static int lastAtOutsideQuotes(String a) {
    boolean quoted = false;
    int at = -1;
    for (int i = 0; i < a.length(); i++) {
      char c = a.charAt(i);
      if (quoted && c == '\\') {
        i++;
      } else if (c == '"') {
        quoted = !quoted;
      } else if (!quoted && c == '@') {
        at = i;
      }
    }
    return quoted ? -1 : at;
  }

  private static void checkLocal(String local) throws SmtpReply {
    if (local.isEmpty() || local.getBytes(StandardCharsets.UTF_8).length > MAX_LOCAL) {
      throw new SmtpReply(501, "5.1.3 Bad address syntax: local part empty or longer than 64 octets");
    }
    if (local.startsWith("\"")) {
      // Quoted-string: qtextSMTP / quoted-pair, no control characters (RFC 5321 4.1.2)
      if (local.length() < 2 || !local.endsWith("\"")) {
        throw new SmtpReply(501, "5.1.3 Bad address syntax: unterminated quoted local part");
      }
      for (int i = 1; i < local.length() - 1; i++) {
        char c = local.charAt(i);
        if (c < 0x20 || c == 0x7f || (c == '"' && local.charAt(i - 1) != '\\')) {
          throw new SmtpReply(501, "5.1.3 Bad address syntax in quoted local part");
        }
      }
      return;
    }
    for (int i = 0; i < local.length(); i++) {
      char c = local.charAt(i);
      boolean ok = c >= 0x80 ? !Character.isISOControl(c) && !Character.isWhitespace(c)
          : (c > 0x20 && c < 0x7f && "()<>[]\\,;:@\"".indexOf(c) < 0);
      if (!ok) {
        throw new SmtpReply(501, "5.1.3 Bad address syntax: character not allowed in the local part");
      }
    }
  }

  static void checkDomain(String domain) throws SmtpReply {
    if (domain.isEmpty() || domain.getBytes(StandardCharsets.UTF_8).length > MAX_DOMAIN) {
      throw new SmtpReply(501, "5.1.3 Bad address syntax: domain empty or too long");
    }
    if (domain.startsWith("[")) {
      if (!domain.endsWith("]") || !domain.substring(1, domain.length() - 1).matches(
          "(\\d{1,3}(\\.\\d{1,3}){3})|(IPv6:[0-9A-Fa-f:.]{2,45})")) {
        throw new SmtpReply(501, "5.1.3 Bad address literal");
      }
      return;
    }
    String ascii;
    try {
      // RFC 6531 3.2: U-labels allowed; IDNA turns them into A-labels, refusing what cannot be a domain.
      ascii = IDN.toASCII(domain, IDN.ALLOW_UNASSIGNED);
    } catch (IllegalArgumentException e) {
      throw new SmtpReply(501, "5.1.3 Bad address syntax: not a domain name");
    }
    String d = ascii.endsWith(".") ? ascii.substring(0, ascii.length() - 1) : ascii;
    if (d.isEmpty()) {
      throw new SmtpReply(501, "5.1.3 Bad address syntax: not a domain name");
    }
    for (String label : d.split("\\.", -1)) {
      if (!label.matches("[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")) {
        throw new SmtpReply(501, "5.1.3 Bad address syntax: not a domain name");
      }
    }
  }

  /** The domain of an address in lower-case ASCII (A-labels), "" for the null path or postmaster. */
  static String asciiDomain(String address) {
    int at = lastAtOutsideQuotes(address);
    if (at < 0) {
      return "";
    }
    String d = address.substring(at + 1);
    try {
      return d.startsWith("[") ? d.toLowerCase(Locale.ROOT) : IDN.toASCII(d, IDN.ALLOW_UNASSIGNED).toLowerCase(Locale.ROOT);
    } catch (IllegalArgumentException e) {
      return d.toLowerCase(Locale.ROOT);
    }
  }

  /** The local part as sent, lower-cased (for policy matching only). */
  static String localPart(String address) {
    int at = lastAtOutsideQuotes(address);
    return at < 0 ? address.toLowerCase(Locale.ROOT) : address.substring(0, at).toLowerCase(Locale.ROOT);
  }

  /** RFC 5321 4.1.2 Mail-parameters: keyword[=value] separated by spaces; keywords are case-insensitive. */
  private static Map<String, String> params(String s) throws SmtpReply {
    Map<String, String> out = new LinkedHashMap<>();
    for (String p : s.split(" ")) {
      if (p.isEmpty()) {
        continue;
      }
      int eq = p.indexOf('=');
      String key = (eq < 0 ? p : p.substring(0, eq)).toUpperCase(Locale.ROOT);
      String value = eq < 0 ? null : p.substring(eq + 1);
      if (!key.matches("[A-Z0-9][A-Z0-9-]{0,63}")) {
        throw new SmtpReply(501, "5.5.4 Bad parameter syntax");
      }
      if (value != null) {
        if (value.isEmpty()) {
          throw new SmtpReply(501, "5.5.4 Bad parameter syntax: empty value for " + key);
        }
        for (int i = 0; i < value.length(); i++) {
          char c = value.charAt(i);
          if (c == '=' || c <= 0x20 || c == 0x7f || (c >= 0x80 && Character.isISOControl(c))) {
            throw new SmtpReply(501, "5.5.4 Bad parameter syntax in " + key);
          }
        }
      }
      if (out.containsKey(key)) {
        throw new SmtpReply(501, "5.5.4 Parameter " + key + " given twice");
      }
      out.put(key, value);
    }
    return Collections.unmodifiableMap(out);
  }

  static boolean isAscii(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) >= 0x80) {
        return false;
      }
    }
    return true;
  }
}
