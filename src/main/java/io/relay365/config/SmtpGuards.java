package io.relay365.config;

import io.relay365.config.Settings.Auth;
import io.relay365.config.Settings.BareLf;
import io.relay365.config.Settings.Senders;
import io.relay365.config.Settings.Smtp;
import io.relay365.config.Settings.Tls;
import io.relay365.tls.Pem;
import java.io.IOException;
import java.net.IDN;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.StringJoiner;
import java.util.function.BiConsumer;

/**
 * The smtp.* settings that decide who may use the relay and how hard the listener is to misuse:
 * networks, TLS, AUTH, sender rules and protocol limits. The rule throughout: a configuration that
 * would make an open relay, or send passwords in clear from anywhere, is refused at start-up with the
 * fix, rather than run (chasquid's "hard to misconfigure in harmful ways").
 */
final class SmtpGuards {
  private SmtpGuards() {}

  static Smtp load(Source src, Smtp basic, Instant now) {
    Duration session = SettingsLoader.duration(src, "smtp.session-timeout", Duration.ofMinutes(30));
    int perClientDefault = Math.min(10, basic.maxConnections());
    Integer perClient = src.integer("smtp.max-connections-per-client", 1, basic.maxConnections(),
        " (at most smtp.max-connections, " + basic.maxConnections() + ")");
    Integer errors = src.integer("smtp.max-errors", 1, 1000, "");
    // RFC 5321 4.5.3.1.4 sets 512 octets for a command line; subethasmtp closes the connection past 998 + CRLF.
    Integer lineLength = src.integer("smtp.max-line-length", 512, 1000,
        " (RFC 5321 4.5.3.1.4 allows 512; the listener cannot read longer command lines than 1000)");
    BareLf bareLf = BareLf.NORMALIZE;
    String lf = src.string("smtp.bare-lf");
    if (lf != null) {
      switch (lf.toLowerCase(Locale.ROOT)) {
        case "normalize": case "normalise": bareLf = BareLf.NORMALIZE; break;
        case "reject": bareLf = BareLf.REJECT; break;
        default:
          throw src.bad("smtp.bare-lf", "is not a choice; use normalize (turn a bare CR or LF into CRLF) or reject"
              + " (refuse the message with 550 5.5.2)");
      }
    }
    List<Cidr> networks = networks(src, "smtp.allowed-networks", Smtp.LOOPBACK,
        "would let every address relay without a password (an open relay); list only the networks of your"
            + " devices, e.g. 10.1.0.0/16, and give other clients a password (smtp.auth.users-file)");
    Tls tls = tls(src, now);
    Auth auth = auth(src, tls);
    if (networks.isEmpty() && auth == null) {
      throw new ConfigException("smtp.allowed-networks", "is empty and smtp.auth.users-file is not set, so no"
          + " client could send; list the devices' networks, e.g. 10.1.0.0/16, or set smtp.auth.users-file");
    }
    Senders senders = senders(src);
    return basic
        .withLimits(session, perClient == null ? perClientDefault : perClient, errors == null ? 10 : errors,
            lineLength == null ? 1000 : lineLength, bareLf)
        .withAllowedNetworks(networks).withTls(tls).withAuth(auth).withSenders(senders);
  }

  private static List<Cidr> networks(Source src, String key, List<Cidr> dflt, String tooBroad) {
    List<String> items = src.list(key);
    if (items == null) {
      return dflt;
    }
    List<Cidr> out = new ArrayList<>();
    for (String item : items) {
      Cidr c;
      try {
        c = Cidr.parse(item);
      } catch (IllegalArgumentException e) {
        throw new ConfigException(key, Messages.show(item) + src.where(key) + " " + e.getMessage());
      }
      if (c.isTooBroad()) {
        throw new ConfigException(key, Messages.show(item) + src.where(key) + " " + tooBroad);
      }
      out.add(c);
    }
    return List.copyOf(out);
  }

  private static Tls tls(Source src, Instant now) {
    Path cert = src.path("smtp.tls.cert-file");
    Path key = src.path("smtp.tls.key-file");
    String implicit = src.string("smtp.tls.implicit-listen");
    Boolean required = src.bool("smtp.tls.required");
    if (cert == null) {
      for (String k : List.of("smtp.tls.key-file", "smtp.tls.implicit-listen", "smtp.tls.required")) {
        if (src.isSet(k) && !(k.equals("smtp.tls.required") && Boolean.FALSE.equals(required))) {
          throw new ConfigException(k, "needs a certificate; set smtp.tls.cert-file (PEM certificate chain) and"
              + " smtp.tls.key-file (PEM private key)");
        }
      }
      return null;
    }
    if (key == null) {
      key = cert; // one PEM file may hold both, as many ACME clients write them
    }
    checkPem(cert, key, now);
    String host = null;
    int port = 0;
    if (implicit != null) {
      String[] hp = SettingsLoader.listen(src, "smtp.tls.implicit-listen", implicit);
      host = hp[0];
      port = Integer.parseInt(hp[1]);
    }
    return new Tls(cert, key, host, port, required != null && required);
  }

  private static void checkPem(Path cert, Path key, Instant now) {
    List<X509Certificate> chain;
    try {
      chain = Pem.readCertificates(cert);
    } catch (IOException | RuntimeException e) {
      throw new ConfigException("smtp.tls.cert-file", cert + " cannot be read as a PEM certificate ("
          + Messages.oneLine(e.getMessage()) + "); point it at the server certificate chain, leaf first");
    }
    if (chain.isEmpty()) {
      throw new ConfigException("smtp.tls.cert-file", cert + " holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
    }
    if (chain.get(0).getNotAfter().before(Date.from(now))) {
      throw new ConfigException("smtp.tls.cert-file", cert + " expired on " + chain.get(0).getNotAfter().toInstant()
          + "; renew it");
    }
    PrivateKey pk;
    try {
      pk = Pem.readPrivateKey(key);
    } catch (IOException | RuntimeException e) {
      pk = null;
    }
    if (pk == null) {
      throw new ConfigException("smtp.tls.key-file", key + " holds no readable unencrypted PEM private key;"
          + " point it at the certificate's key (-----BEGIN PRIVATE KEY-----)");
    }
    if (!pk.getAlgorithm().equals(chain.get(0).getPublicKey().getAlgorithm())) {
      throw new ConfigException("smtp.tls.key-file", key + " holds a " + pk.getAlgorithm() + " key but the"
          + " certificate's key is " + chain.get(0).getPublicKey().getAlgorithm() + "; use the matching key");
    }
  }

  private static Auth auth(Source src, Tls tls) {
    Path users = src.path("smtp.auth.users-file");
    if (users == null) {
      for (String k : List.of("smtp.auth.without-tls-networks", "smtp.auth.failure-delay")) {
        if (src.isSet(k)) {
          throw new ConfigException(k, "has no effect without smtp.auth.users-file; set it or remove this");
        }
      }
      return null;
    }
    if (!Files.isRegularFile(users) || !Files.isReadable(users)) {
      throw new ConfigException("smtp.auth.users-file", users + " does not exist or cannot be read; create it"
          + " with: relay365 passwd --file " + users + " USER");
    }
    List<Cidr> plain = networks(src, "smtp.auth.without-tls-networks", List.of(),
        "would let passwords cross any network in clear; list only the legacy devices' own networks");
    if (tls == null && plain.isEmpty()) {
      throw new ConfigException("smtp.auth.users-file", "is set, but AUTH is offered only after STARTTLS and no"
          + " certificate is configured; set smtp.tls.cert-file and smtp.tls.key-file, or list the legacy"
          + " devices' networks in smtp.auth.without-tls-networks");
    }
    Duration delay = SettingsLoader.duration(src, "smtp.auth.failure-delay", Duration.ofSeconds(1));
    return new Auth(users, plain, delay);
  }

  private static Senders senders(Source src) {
    String key = "smtp.allowed-senders";
    Map<String, List<String>> raw = src.mapOfLists(key);
    if (raw == null) {
      return Senders.NONE;
    }
    Map<String, List<String>> byUser = new LinkedHashMap<>();
    Map<Cidr, List<String>> byNetwork = new LinkedHashMap<>();
    for (Map.Entry<String, List<String>> e : raw.entrySet()) {
      List<String> senders = new ArrayList<>();
      for (String s : e.getValue()) {
        String n = normalizeSender(s);
        if (n == null) {
          throw new ConfigException(key, "entry " + Messages.show(e.getKey()) + src.where(key) + " lists "
              + Messages.show(s) + ", which is neither an address, @domain nor <>; write e.g. scans@example.com"
              + " or @example.com");
        }
        senders.add(n);
      }
      String k = e.getKey();
      if (k.regionMatches(true, 0, "user:", 0, 5) && k.length() > 5) {
        byUser.put(k.substring(5), List.copyOf(senders));
      } else {
        try {
          byNetwork.put(Cidr.parse(k), List.copyOf(senders));
        } catch (IllegalArgumentException ex) {
          throw new ConfigException(key, "key " + Messages.show(k) + src.where(key) + " is neither user:NAME nor a"
              + " network: it " + ex.getMessage());
        }
      }
    }
    return new Senders(Collections.unmodifiableMap(byUser), Collections.unmodifiableMap(byNetwork));
  }

  /**
   * An address, "@domain" or "<>", lower-cased with the domain in ASCII (IDNA A-labels), so that rules
   * match whether a client writes the domain in Unicode (SMTPUTF8) or as xn--; null if it is none of these.
   */
  static String normalizeSender(String s) {
    if (s.equals("<>")) {
      return s;
    }
    int at = s.lastIndexOf('@');
    if (at < 0 || at == s.length() - 1) {
      return null;
    }
    String domain;
    try {
      domain = IDN.toASCII(s.substring(at + 1), IDN.USE_STD3_ASCII_RULES).toLowerCase(Locale.ROOT);
    } catch (IllegalArgumentException e) {
      return null;
    }
    if (!Values.isDomain(domain)) {
      return null;
    }
    String local = s.substring(0, at);
    if (at > 0 && !Values.isAddress(local.replaceAll("[^\\x21-\\x7e]", "x") + "@" + domain)) {
      return null;
    }
    return local.toLowerCase(Locale.ROOT) + "@" + domain;
  }

  static void describe(Smtp smtp, BiConsumer<String, Object> line) {
    line.accept("smtp.session-timeout", Values.formatDuration(smtp.sessionTimeout()));
    line.accept("smtp.max-connections-per-client", smtp.maxConnectionsPerClient());
    line.accept("smtp.max-errors", smtp.maxErrors());
    line.accept("smtp.max-line-length", smtp.maxLineLength());
    line.accept("smtp.bare-lf", smtp.bareLf().name().toLowerCase(Locale.ROOT));
    line.accept("smtp.allowed-networks", join(smtp.allowedNetworks()));
    StringJoiner senders = new StringJoiner("; ");
    smtp.senders().byUser().forEach((u, l) -> senders.add("user:" + u + "=" + String.join(" ", l)));
    smtp.senders().byNetwork().forEach((n, l) -> senders.add(n + "=" + String.join(" ", l)));
    line.accept("smtp.allowed-senders", senders.length() == 0 ? null : senders.toString());
    Tls tls = smtp.tls();
    line.accept("smtp.tls.cert-file", tls == null ? null : tls.certFile());
    line.accept("smtp.tls.key-file", tls == null ? null : tls.keyFile());
    line.accept("smtp.tls.implicit-listen", tls == null || tls.implicitHost() == null ? null
        : (tls.implicitHost().contains(":") ? "[" + tls.implicitHost() + "]" : tls.implicitHost()) + ":"
            + tls.implicitPort());
    line.accept("smtp.tls.required", tls != null && tls.required());
    Auth auth = smtp.auth();
    line.accept("smtp.auth.users-file", auth == null ? null : auth.usersFile());
    line.accept("smtp.auth.without-tls-networks", auth == null || auth.plainNetworks().isEmpty() ? null
        : join(auth.plainNetworks()));
    line.accept("smtp.auth.failure-delay", auth == null ? null : Values.formatDuration(auth.failureDelay()));
  }

  private static String join(List<Cidr> networks) {
    StringJoiner j = new StringJoiner(", ");
    networks.forEach(n -> j.add(n.toString()));
    return j.length() == 0 ? "(none)" : j.toString();
  }
}
