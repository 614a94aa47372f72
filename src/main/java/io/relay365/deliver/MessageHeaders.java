package io.relay365.deliver;

import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The top-level header block of a message (RFC 5322 §2.2), read without touching the body: unfolded
 * fields by name, and address lists (quoted display names with commas or @, comments, encoded words in
 * display names, groups such as {@code Undisclosed recipients:;}).
 *
 * <p>Reads at most {@link #MAX_HEADER_BYTES}; a longer header block is parsed as far as read and
 * {@link #truncated()} says so.
 */
public final class MessageHeaders {
  public static final int MAX_HEADER_BYTES = 1024 * 1024;

  /** One header field: its name as written and its unfolded value (without the leading space). */
  public record Field(String name, String value) {}

  private final List<Field> fields;
  private final boolean truncated;

  private MessageHeaders(List<Field> fields, boolean truncated) {
    this.fields = List.copyOf(fields);
    this.truncated = truncated;
  }

  /** Reads the header block of a message file. */
  public static MessageHeaders read(Path message) throws IOException {
    try (InputStream in = new BufferedInputStream(Files.newInputStream(message))) {
      return read(in);
    }
  }

  public static MessageHeaders parse(byte[] message) {
    try {
      return read(new ByteArrayInputStream(message));
    } catch (IOException e) {
      throw new IllegalStateException(e); // cannot happen on a byte array
    }
  }

  /** Reads from {@code in} up to and including the blank line that ends the header block. */
  public static MessageHeaders read(InputStream in) throws IOException {
    ByteArrayOutputStream block = new ByteArrayOutputStream(4096);
    boolean truncated = false;
    int prev = -1;
    int prev2 = -1;
    int b;
    while ((b = in.read()) != -1) {
      block.write(b);
      // end of headers: an empty line, CRLF CRLF or bare LF LF
      if (b == '\n' && (prev == '\n' || (prev == '\r' && prev2 == '\n'))) {
        break;
      }
      if (block.size() >= MAX_HEADER_BYTES) {
        truncated = true;
        break;
      }
      prev2 = prev;
      prev = b;
    }
    // RFC 6532 allows UTF-8 in header values; anything else is ASCII after RFC 2047
    String text = block.toString(StandardCharsets.UTF_8);
    return new MessageHeaders(fields(text), truncated);
  }

  private static List<Field> fields(String text) {
    List<Field> out = new ArrayList<>();
    String name = null;
    StringBuilder value = null;
    for (String line : text.split("\n", -1)) {
      if (line.endsWith("\r")) {
        line = line.substring(0, line.length() - 1);
      }
      if (line.isEmpty()) {
        break; // end of the header block
      }
      char c = line.charAt(0);
      if (c == ' ' || c == '\t') {
        if (value != null) {
          value.append(line); // unfolding removes only the line break (RFC 5322 §2.2.3)
        }
        continue;
      }
      if (name != null) {
        out.add(new Field(name, value.toString().strip()));
        name = null;
        value = null;
      }
      int colon = line.indexOf(':');
      if (colon <= 0) {
        continue; // not a header field (e.g. an mbox "From " line): skip it
      }
      String n = line.substring(0, colon).stripTrailing(); // obs-syntax allows WSP before the colon
      if (!validName(n)) {
        continue;
      }
      name = n;
      value = new StringBuilder(line.substring(colon + 1));
    }
    if (name != null) {
      out.add(new Field(name, value.toString().strip()));
    }
    return out;
  }

  private static boolean validName(String n) {
    if (n.isEmpty()) {
      return false;
    }
    for (int i = 0; i < n.length(); i++) {
      char ch = n.charAt(i);
      if (ch < 33 || ch > 126 || ch == ':') {
        return false;
      }
    }
    return true;
  }

  public List<Field> fields() {
    return fields;
  }

  public boolean truncated() {
    return truncated;
  }

  /** The unfolded values of every field called {@code name} (case-insensitive), in order. */
  public List<String> values(String name) {
    List<String> out = new ArrayList<>();
    for (Field f : fields) {
      if (f.name().equalsIgnoreCase(name)) {
        out.add(f.value());
      }
    }
    return out;
  }

  /** The first value of {@code name}, or null. */
  public String first(String name) {
    for (Field f : fields) {
      if (f.name().equalsIgnoreCase(name)) {
        return f.value();
      }
    }
    return null;
  }

  /** One mailbox of an address list: its addr-spec and its display name as written (not decoded). */
  public record Address(String address, String displayName) {}

  /**
   * The mailboxes in every field called {@code name} (To, Cc, From, …), groups expanded, in order.
   * Parsing runs on the raw unfolded value, before any RFC 2047 decoding, so an encoded display name
   * cannot smuggle in a comma or an address (RFC 2047 §5: encoded words never form an addr-spec).
   */
  public List<Address> addresses(String name) {
    List<Address> out = new ArrayList<>();
    for (String v : values(name)) {
      out.addAll(parseAddressList(v));
    }
    return out;
  }

  /** Just the addr-specs of {@link #addresses(String)}. */
  public List<String> addressSpecs(String name) {
    List<String> out = new ArrayList<>();
    for (Address a : addresses(name)) {
      out.add(a.address());
    }
    return out;
  }

  /** The first address in From:, or null if there is none. */
  public String fromAddress() {
    List<String> from = addressSpecs("From");
    return from.isEmpty() ? null : from.get(0);
  }

  /**
   * A lenient RFC 5322 §3.4 address-list parser: quoted strings (with commas, @, escapes), comments,
   * angle addresses (an obsolete route "@a,@b:" is dropped), groups ("Team: a@x, b@y;" and the empty
   * "Undisclosed recipients:;"). Devices write odd headers, so it never fails: whatever looks like a
   * mailbox is returned.
   *
   * <p>(Jakarta Mail's InternetAddress would do this, but jakarta.mail-api reaches us only in runtime
   * scope through subethasmtp, and pom.xml is the lead's.)
   */
  static List<Address> parseAddressList(String value) {
    List<Address> out = new ArrayList<>();
    StringBuilder phrase = new StringBuilder(); // display name, or a bare addr-spec
    StringBuilder display = new StringBuilder();
    String angle = null;
    int n = value.length();
    int i = 0;
    while (i < n) {
      char c = value.charAt(i);
      if (c == '"' && value.indexOf('"', i + 1) < 0) {
        i++; // an unbalanced quote: ignore it rather than swallow the rest of the list
      } else if (c == '"') {
        int j = i + 1;
        StringBuilder q = new StringBuilder();
        while (j < n && value.charAt(j) != '"') {
          if (value.charAt(j) == '\\' && j + 1 < n) {
            j++;
          }
          q.append(value.charAt(j));
          j++;
        }
        phrase.append(value, i, Math.min(j + 1, n)); // keep the quotes: it may be a quoted local part
        display.append(q);
        i = j + 1;
      } else if (c == '(') {
        int depth = 0;
        while (i < n) {
          char d = value.charAt(i);
          if (d == '\\') {
            i++;
          } else if (d == '(') {
            depth++;
          } else if (d == ')' && --depth == 0) {
            break;
          }
          i++;
        }
        phrase.append(' ');
        i++;
      } else if (c == '<') {
        int j = i + 1;
        while (j < n && value.charAt(j) == '<') {
          j++;
        }
        int close = value.indexOf('>', j);
        String inside = value.substring(j, close < 0 ? n : close);
        int route = inside.lastIndexOf(':');
        angle = (route >= 0 ? inside.substring(route + 1) : inside).strip();
        i = close < 0 ? n : close + 1;
        while (i < n && value.charAt(i) == '>') {
          i++;
        }
      } else if (c == '[') {
        // domain literal, e.g. user@[IPv6:2001:db8::1]: its colons are not a group
        int close = value.indexOf(']', i);
        int j = close < 0 ? n : close + 1;
        phrase.append(value, i, j);
        display.append(value, i, j);
        i = j;
      } else if (c == ':') {
        // group start: what came before is the group's name, not a mailbox
        phrase.setLength(0);
        display.setLength(0);
        angle = null;
        i++;
      } else if (c == ',' || c == ';') {
        finish(out, phrase, display, angle);
        angle = null;
        i++;
      } else {
        phrase.append(c);
        display.append(c);
        i++;
      }
    }
    finish(out, phrase, display, angle);
    return out;
  }

  private static void finish(List<Address> out, StringBuilder phrase, StringBuilder display, String angle) {
    String address;
    String name = "";
    if (angle != null) {
      address = angle;
      name = display.toString().strip();
    } else {
      address = phrase.toString().strip();
      // "john a@b" is not valid, but the token with the @ is what the device meant
      if (!address.startsWith("\"") && (address.contains(" ") || address.contains("\t"))) {
        for (String token : address.split("[ \t]+")) {
          if (token.contains("@")) {
            address = token;
            break;
          }
        }
      }
    }
    phrase.setLength(0);
    display.setLength(0);
    if (!address.isEmpty()) {
      out.add(new Address(address, name));
    }
  }

  /** Lower-cased for comparisons; addresses compare case-insensitively in practice (Exchange does). */
  static String normalize(String address) {
    return address.strip().toLowerCase(Locale.ROOT);
  }
}
