package io.relay365.sandbox;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Fault injection for the sandbox's SMTP submission endpoint ({@link SmtpEndpoint}); part of {@link Faults}
 * (Java: {@code faults.smtp()}, JSON: the {@code "smtp"} object of {@code POST /_sandbox/faults}).
 * Faults.denyMailbox, unknownMailbox and maxMessageSize apply to SMTP too.
 *
 * <p>JSON example: {@code {"smtp":{"reply":{"stage":"dot","reply":"451 4.7.500 Server busy","count":2},
 * "latencyMillis":200,"authDisabled":false,"authDisabledFor":["fax@contoso.example"],
 * "grantSendAs":[{"mailbox":"scanner@contoso.example","address":"noreply@contoso.example"}],
 * "submissionRate":{"count":30,"windowMillis":60000},"maxConcurrentPerMailbox":3,"startTlsStripped":false}}}.
 */
public final class SmtpFaults {
  /** GUESS: Exchange Online's concurrent submissions per mailbox ("sender thread limit exceeded" above it). */
  public static final int DEFAULT_MAX_CONCURRENT = 3;
  /** Exchange Online: 30 messages a minute per mailbox; client submission above it is rejected (§4, §5). */
  public static final int DEFAULT_RATE = 30;
  public static final Duration DEFAULT_RATE_WINDOW = Duration.ofMinutes(1);
  /** An injected "reply" that closes the connection without answering (a reset or a lost reply). */
  public static final String DROP = "drop";

  /** Where a reply can be injected. */
  public enum Stage {
    /** Instead of the 220 greeting (the connection is closed after it). */
    CONNECT, EHLO, STARTTLS, AUTH, MAIL, RCPT,
    /** The reply to the DATA command (instead of 354). */
    DATA,
    /** The reply to the end of the message (after the final "."): the message is not stored. */
    DOT;

    static Stage parse(String s) {
      return Stage.valueOf(s.trim().toUpperCase(Locale.ROOT));
    }
  }

  record SendAs(String mailbox, String address) {}

  private final Map<Stage, Faults.Counted<String>> replies = new EnumMap<>(Stage.class);
  private Duration latency = Duration.ZERO;
  private boolean authDisabled;
  private final Set<String> authDisabledFor = new TreeSet<>();
  private final List<SendAs> sendAs = new ArrayList<>();
  private int rate = DEFAULT_RATE;
  private Duration rateWindow = DEFAULT_RATE_WINDOW;
  private int maxConcurrent = DEFAULT_MAX_CONCURRENT;
  private boolean startTlsStripped;

  /**
   * The next {@code count} commands of {@code stage} get {@code reply} (e.g. "451 4.7.500 Server busy") instead
   * of the normal processing, or no answer at all for {@link #DROP}. A 421 closes the connection, as in RFC 5321.
   */
  public synchronized SmtpFaults reply(Stage stage, String reply, int count) {
    if (count > 0) {
      replies.put(stage, new Faults.Counted<>(reply, count));
    } else {
      replies.remove(stage);
    }
    return this;
  }

  /** Delay before the reply to the end of a message (Exchange's submission time). */
  public synchronized SmtpFaults latency(Duration d) {
    latency = d == null ? Duration.ZERO : d;
    return this;
  }

  /** SMTP AUTH disabled for the whole tenant (Set-TransportConfig -SmtpClientAuthenticationDisabled $true). */
  public synchronized SmtpFaults authDisabled(boolean disabled) {
    authDisabled = disabled;
    return this;
  }

  /** SMTP AUTH disabled for one mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled $true). */
  public synchronized SmtpFaults authDisabledFor(String mailbox) {
    authDisabledFor.add(mailbox.toLowerCase(Locale.ROOT));
    return this;
  }

  /** {@code mailbox} may send as {@code address} (Add-RecipientPermission … -AccessRights SendAs). */
  public synchronized SmtpFaults grantSendAs(String mailbox, String address) {
    sendAs.add(new SendAs(mailbox.toLowerCase(Locale.ROOT), address.toLowerCase(Locale.ROOT)));
    return this;
  }

  /** Messages accepted per mailbox per window before the quota rejection (0 = unlimited). */
  public synchronized SmtpFaults submissionRate(int count, Duration window) {
    rate = count;
    rateWindow = window;
    return this;
  }

  /** Submissions of one mailbox in progress at once above which "sender thread limit exceeded" is answered. */
  public synchronized SmtpFaults maxConcurrentPerMailbox(int max) {
    maxConcurrent = max;
    return this;
  }

  /**
   * Not Exchange but a middlebox: a firewall inspecting SMTP replaces STARTTLS in the EHLO reply (Cisco's ESMTP
   * inspection writes "XXXXXXXA") and refuses the command.
   */
  public synchronized SmtpFaults startTlsStripped(boolean stripped) {
    startTlsStripped = stripped;
    return this;
  }

  public synchronized SmtpFaults reset() {
    replies.clear();
    latency = Duration.ZERO;
    authDisabled = false;
    authDisabledFor.clear();
    sendAs.clear();
    rate = DEFAULT_RATE;
    rateWindow = DEFAULT_RATE_WINDOW;
    maxConcurrent = DEFAULT_MAX_CONCURRENT;
    startTlsStripped = false;
    return this;
  }

  // ---- used by the endpoint --------------------------------------------------------------------

  synchronized String takeReply(Stage stage) {
    Faults.Counted<String> c = replies.get(stage);
    if (c == null) {
      return null;
    }
    if (c.remaining() <= 1) {
      replies.remove(stage);
    } else {
      replies.put(stage, new Faults.Counted<>(c.value(), c.remaining() - 1));
    }
    return c.value();
  }

  synchronized Duration latency() {
    return latency;
  }

  synchronized boolean isAuthDisabled() {
    return authDisabled;
  }

  synchronized boolean isAuthDisabledFor(String mailbox) {
    return authDisabledFor.contains(mailbox.toLowerCase(Locale.ROOT));
  }

  synchronized boolean maySendAs(String mailbox, String address) {
    String m = mailbox.toLowerCase(Locale.ROOT);
    String a = address.toLowerCase(Locale.ROOT);
    return m.equals(a) || sendAs.contains(new SendAs(m, a));
  }

  synchronized int rate() {
    return rate;
  }

  synchronized Duration rateWindow() {
    return rateWindow;
  }

  synchronized int maxConcurrent() {
    return maxConcurrent;
  }

  synchronized boolean isStartTlsStripped() {
    return startTlsStripped;
  }

  // ---- JSON ------------------------------------------------------------------------------------

  public synchronized JsonObject toJson() {
    JsonObject j = new JsonObject();
    JsonArray r = new JsonArray();
    replies.forEach((stage, c) -> r.add(new JsonObject().put("stage", stage.name().toLowerCase(Locale.ROOT))
        .put("reply", c.value()).put("count", c.remaining())));
    j.put("replies", r);
    j.put("latencyMillis", latency.toMillis());
    j.put("authDisabled", authDisabled);
    j.put("authDisabledFor", new JsonArray(new ArrayList<>(authDisabledFor)));
    JsonArray g = new JsonArray();
    sendAs.forEach(s -> g.add(new JsonObject().put("mailbox", s.mailbox()).put("address", s.address())));
    j.put("grantSendAs", g);
    j.put("submissionRate", new JsonObject().put("count", rate).put("windowMillis", rateWindow.toMillis()));
    j.put("maxConcurrentPerMailbox", maxConcurrent);
    j.put("startTlsStripped", startTlsStripped);
    return j;
  }

  /** Applies what {@code j} holds; absent keys stay as they are. "reply" may be one object or an array. */
  public synchronized SmtpFaults apply(JsonObject j) {
    Object rep = j.getValue("reply");
    JsonArray list = rep instanceof JsonArray a ? a : rep instanceof JsonObject o ? new JsonArray().add(o) : null;
    if (list != null) {
      for (Object x : list) {
        JsonObject o = (JsonObject) x;
        reply(Stage.parse(o.getString("stage")), o.getString("reply"), o.getInteger("count", 1));
      }
    }
    if (j.containsKey("latencyMillis")) {
      latency(Duration.ofMillis(j.getLong("latencyMillis")));
    }
    if (j.containsKey("authDisabled")) {
      authDisabled(j.getBoolean("authDisabled"));
    }
    JsonArray a;
    if ((a = j.getJsonArray("authDisabledFor")) != null) {
      a.forEach(x -> authDisabledFor(String.valueOf(x)));
    }
    if ((a = j.getJsonArray("grantSendAs")) != null) {
      for (Object x : a) {
        JsonObject o = (JsonObject) x;
        grantSendAs(o.getString("mailbox"), o.getString("address"));
      }
    }
    JsonObject o;
    if ((o = j.getJsonObject("submissionRate")) != null) {
      submissionRate(o.getInteger("count", DEFAULT_RATE), Duration.ofMillis(o.getLong("windowMillis",
          DEFAULT_RATE_WINDOW.toMillis())));
    }
    if (j.containsKey("maxConcurrentPerMailbox")) {
      maxConcurrentPerMailbox(j.getInteger("maxConcurrentPerMailbox"));
    }
    if (j.containsKey("startTlsStripped")) {
      startTlsStripped(j.getBoolean("startTlsStripped"));
    }
    return this;
  }
}
