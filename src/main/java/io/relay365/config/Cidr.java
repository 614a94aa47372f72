package io.relay365.config;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.Locale;

/**
 * An IPv4 or IPv6 network in CIDR notation ("10.1.0.0/16", "fd00::/8", or one address "192.0.2.7").
 * IPv4-mapped IPv6 (::ffff:a.b.c.d, RFC 4291 2.5.5.2) is the same host as a.b.c.d: a dual-stack
 * listener on [::] sees IPv4 clients in that form, so both a mapped network and a mapped client
 * address are turned into plain IPv4 before comparing. Otherwise a list of IPv4 networks would
 * not match those clients, or a mapped network would silently match nothing.
 */
public final class Cidr {
  private final byte[] network;
  private final int prefix;

  private Cidr(byte[] network, int prefix) {
    this.network = network;
    this.prefix = prefix;
  }

  /**
   * Parses a network; no DNS lookup is ever made (only literals are accepted).
   *
   * @throws IllegalArgumentException with a one-line reason, e.g. host bits set after the prefix
   */
  public static Cidr parse(String text) {
    String s = text.strip();
    int slash = s.indexOf('/');
    String addr = slash < 0 ? s : s.substring(0, slash);
    if (addr.startsWith("[") && addr.endsWith("]")) {
      addr = addr.substring(1, addr.length() - 1);
    }
    if (addr.isEmpty() || !(Values.isIPv4(addr) || (Values.isIPv6(addr) && !addr.contains("%")))) {
      throw new IllegalArgumentException("is not an IP address or network (write e.g. 10.1.0.0/16, 192.0.2.7"
          + " or fd00::/8; host names are not accepted)");
    }
    byte[] bytes;
    try {
      bytes = InetAddress.getByName(addr).getAddress(); // a literal: parsed, never looked up
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("is not an IP address or network");
    }
    if (addr.contains(":") && bytes.length == 4) {
      // the JDK reads "::ffff:a.b.c.d" as plain IPv4: restore the IPv6 form, so that /96+ prefixes apply
      byte[] v6 = new byte[16];
      v6[10] = (byte) 0xff;
      v6[11] = (byte) 0xff;
      System.arraycopy(bytes, 0, v6, 12, 4);
      bytes = v6;
    }
    int max = bytes.length * 8;
    int p = max;
    if (slash >= 0) {
      String ps = s.substring(slash + 1);
      if (!ps.matches("\\d{1,3}") || Integer.parseInt(ps) > max) {
        throw new IllegalArgumentException("has a bad prefix length; use /0../" + max);
      }
      p = Integer.parseInt(ps);
    }
    if (bytes.length == 16 && isMapped(bytes) && p >= 96) {
      bytes = Arrays.copyOfRange(bytes, 12, 16);
      p -= 96;
    }
    byte[] masked = mask(bytes, p);
    if (!Arrays.equals(masked, bytes)) {
      throw new IllegalArgumentException("has host bits set after /" + p + "; write the network "
          + format(masked) + "/" + p + " or the single address " + format(bytes));
    }
    return new Cidr(masked, p);
  }

  /** Whether the address is in this network; IPv4-mapped IPv6 addresses count as their IPv4 address. */
  public boolean contains(InetAddress address) {
    byte[] a = plain(address);
    if (a.length != network.length) {
      return false;
    }
    return Arrays.equals(mask(a, prefix), network);
  }

  public int prefix() {
    return prefix;
  }

  public boolean isIPv4() {
    return network.length == 4;
  }

  /**
   * A network so wide that allowing it would make an open relay on any connected host: shorter than
   * /8 for IPv4 (0.0.0.0/0, 0.0.0.0/1, ...) or /7 for IPv6 (fc00::/7, every unique local address,
   * is the widest private range).
   */
  public boolean isTooBroad() {
    return prefix < (isIPv4() ? 8 : 7);
  }

  /** The bytes of the address, with an IPv4-mapped IPv6 address reduced to its IPv4 bytes. */
  static byte[] plain(InetAddress address) {
    byte[] a = address.getAddress();
    if (address instanceof Inet6Address && isMapped(a)) {
      return Arrays.copyOfRange(a, 12, 16);
    }
    return a;
  }

  private static boolean isMapped(byte[] a) {
    for (int i = 0; i < 10; i++) {
      if (a[i] != 0) {
        return false;
      }
    }
    return a[10] == (byte) 0xff && a[11] == (byte) 0xff;
  }

  private static byte[] mask(byte[] a, int prefix) {
    byte[] m = a.clone();
    for (int i = 0; i < m.length; i++) {
      int bits = Math.max(0, Math.min(8, prefix - i * 8));
      m[i] &= (byte) (0xff << (8 - bits));
    }
    return m;
  }

  private static String format(byte[] a) {
    try {
      InetAddress ia = a.length == 4 ? Inet4Address.getByAddress(a) : Inet6Address.getByAddress(null, a, -1);
      return ia.getHostAddress().toLowerCase(Locale.ROOT);
    } catch (UnknownHostException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Cidr c && c.prefix == prefix && Arrays.equals(c.network, network);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(network) * 31 + prefix;
  }

  /** Canonical form, e.g. 10.0.0.0/8 or fd00:0:0:0:0:0:0:0/8. */
  @Override
  public String toString() {
    return format(network) + "/" + prefix;
  }
}
