package io.relay365.admin;

import io.relay365.store.Envelope;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;

/**
 * The read-only status page: plain HTML and inline CSS, no script, no external asset (the admin
 * listener's Content-Security-Policy forbids both). Built so that a person sees the answer to "is mail
 * flowing?" first: a coloured headline, then four figures, then the details (alerts, queue, recent
 * deliveries, last errors). Refreshes itself every 10 seconds.
 */
final class StatusPage {
  private StatusPage() {}

  static final int QUEUE_ROWS = 20;
  private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'")
      .withZone(ZoneOffset.UTC);

  record View(Instant now, Instant started, List<Envelope> queue, List<StatusBoard.Delivery> deliveries,
      List<StatusBoard.Failure> errors, List<StatusBoard.Alert> alerts, TokenState token, long tokenRequests,
      long tokenFailures) {}

  /** Headline states, worst first. */
  enum Health {
    ALERT("bad", "Needs attention"), STUCK("warn", "Mail is waiting"), OK("good", "Delivering normally");

    final String css;
    final String title;

    Health(String css, String title) {
      this.css = css;
      this.title = title;
    }
  }

  static Health health(View v) {
    if (!v.alerts().isEmpty() || v.token() == null || !v.token().ok()) {
      return Health.ALERT;
    }
    boolean retrying = v.queue().stream().anyMatch(e -> e.attempts() > 0);
    return retrying ? Health.STUCK : Health.OK;
  }

  static String render(View v) {
    Health h = health(v);
    StringBuilder b = new StringBuilder(8192);
    b.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
        .append("<meta http-equiv=\"refresh\" content=\"10\">")
        .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        .append("<title>relay365 — ").append(h.title).append("</title><style>").append(CSS).append("</style></head><body>");
    b.append("<header id=\"headline\" class=\"headline ").append(h.css).append("\"><h1>").append(h.title).append("</h1><p>")
        .append(esc(summary(v, h))).append("</p></header>");

    Instant oldest = v.queue().stream().map(Envelope::arrived).min(Instant::compareTo).orElse(null);
    b.append("<section class=\"figures\">");
    figure(b, "queued", String.valueOf(v.queue().size()), "messages waiting", v.queue().isEmpty() ? "good" : "warn");
    figure(b, "oldest", oldest == null ? "—" : age(Duration.between(oldest, v.now())), "oldest message",
        oldest == null ? "good" : "warn");
    figure(b, "delivered", String.valueOf(v.deliveries().size() < StatusBoard.RECENT ? v.deliveries().size()
        : StatusBoard.RECENT + "+"), "recent deliveries", "good");
    figure(b, "token", v.token() != null && v.token().ok() ? "OK" : "FAILING", v.tokenRequests() + " requests, "
        + v.tokenFailures() + " failed", v.token() != null && v.token().ok() ? "good" : "bad");
    b.append("</section>");

    if (!v.alerts().isEmpty() || (v.token() != null && !v.token().ok())) {
      b.append("<section id=\"alerts\"><h2>Alerts: an administrator must act</h2>")
          .append("<p>Mail stays queued meanwhile. <code>relay365 doctor</code> names the setup step that fixes")
          .append(" each one.</p><ul class=\"alerts\">");
      if (v.token() != null && !v.token().ok()) {
        b.append("<li><strong>token</strong> ").append(esc(v.token().problem())).append("</li>");
      }
      for (StatusBoard.Alert a : v.alerts()) {
        b.append("<li><strong>").append(esc(a.key())).append("</strong> ").append(esc(a.text()))
            .append(" <span class=\"muted\">since ").append(TIME.format(a.since())).append(", ").append(a.times())
            .append("×</span></li>");
      }
      b.append("</ul></section>");
    }

    b.append("<section id=\"queue\"><h2>Queue (").append(v.queue().size()).append(")</h2>");
    if (v.queue().isEmpty()) {
      b.append("<p class=\"empty\">The queue is empty: everything accepted has been delivered.</p>");
    } else {
      b.append("<table><thead><tr><th>queue id</th><th>from</th><th>to</th><th>waiting</th><th>attempts</th>")
          .append("<th>last error</th></tr></thead><tbody>");
      for (Envelope e : v.queue().subList(0, Math.min(QUEUE_ROWS, v.queue().size()))) {
        b.append("<tr><td class=\"id\">").append(esc(e.id())).append("</td><td>").append(esc(StatusBoard.from(e)))
            .append("</td><td>").append(esc(String.join(", ", e.recipients()))).append("</td><td>")
            .append(age(Duration.between(e.arrived(), v.now()))).append("</td><td>").append(e.attempts())
            .append("</td><td class=\"err\">").append(esc(e.lastError() == null ? "" : e.lastError()))
            .append("</td></tr>");
      }
      b.append("</tbody></table>");
      if (v.queue().size() > QUEUE_ROWS) {
        b.append("<p class=\"muted\">and ").append(v.queue().size() - QUEUE_ROWS).append(" more</p>");
      }
    }
    b.append("</section>");

    b.append("<section id=\"deliveries\"><h2>Recent deliveries</h2>");
    if (v.deliveries().isEmpty()) {
      b.append("<p class=\"empty\">Nothing delivered since the relay started ").append(TIME.format(v.started()))
          .append(".</p>");
    } else {
      b.append("<table><thead><tr><th>time</th><th>queue id</th><th>from</th><th>sent as</th><th>to</th>")
          .append("<th>took</th></tr></thead><tbody>");
      for (StatusBoard.Delivery d : v.deliveries()) {
        b.append("<tr><td>").append(TIME.format(d.at())).append("</td><td class=\"id\">").append(esc(d.id()))
            .append("</td><td>").append(esc(d.from())).append("</td><td>").append(esc(d.mailbox()))
            .append("</td><td>").append(esc(String.join(", ", d.recipients()))).append("</td><td>")
            .append(age(d.latency())).append("</td></tr>");
      }
      b.append("</tbody></table>");
    }
    b.append("</section>");

    b.append("<section id=\"errors\"><h2>Last errors</h2>");
    if (v.errors().isEmpty()) {
      b.append("<p class=\"empty\">No errors since the relay started.</p>");
    } else {
      b.append("<table><thead><tr><th>time</th><th>queue id</th><th>what</th><th>code</th><th>detail</th>")
          .append("</tr></thead><tbody>");
      for (StatusBoard.Failure f : v.errors()) {
        b.append("<tr><td>").append(TIME.format(f.at())).append("</td><td class=\"id\">")
            .append(esc(f.id() == null ? "—" : f.id())).append("</td><td>").append(esc(f.what())).append("</td><td>")
            .append(esc(f.code())).append("</td><td class=\"err\">").append(esc(f.detail())).append("</td></tr>");
      }
      b.append("</tbody></table>");
    }
    b.append("</section>");
    b.append("<footer class=\"muted\">relay365 · page generated ").append(TIME.format(v.now()))
        .append(" · up since ").append(TIME.format(v.started()))
        .append(" · refreshes every 10 s · <a href=\"/metrics\">metrics</a></footer></body></html>\n");
    return b.toString();
  }

  private static String summary(View v, Health h) {
    switch (h) {
      case ALERT:
        int n = v.alerts().size() + (v.token() != null && !v.token().ok() ? 1 : 0);
        return n + " problem(s) stop delivery until fixed; mail stays queued (" + v.queue().size() + " waiting).";
      case STUCK:
        return v.queue().size() + " message(s) waiting; some failed and will be retried.";
      default:
        return v.queue().isEmpty() ? "The queue is empty and a token is available."
            : v.queue().size() + " message(s) on their way; a token is available.";
    }
  }

  private static void figure(StringBuilder b, String id, String value, String label, String css) {
    b.append("<div class=\"figure ").append(css).append("\" id=\"fig-").append(id).append("\"><div class=\"value\">")
        .append(esc(value)).append("</div><div class=\"label\">").append(esc(label)).append("</div></div>");
  }

  static String age(Duration d) {
    long s = Math.max(0, d.toSeconds());
    if (s < 1) {
      return Math.max(0, d.toMillis()) + " ms";
    }
    if (s < 120) {
      return s + " s";
    }
    if (s < 7200) {
      return s / 60 + " min";
    }
    if (s < 172_800) {
      return s / 3600 + " h";
    }
    return s / 86_400 + " days";
  }

  static String esc(String s) {
    if (s == null) {
      return "";
    }
    StringBuilder b = new StringBuilder(s.length());
    for (char c : s.toCharArray()) {
      switch (c) {
        case '<': b.append("&lt;"); break;
        case '>': b.append("&gt;"); break;
        case '&': b.append("&amp;"); break;
        case '"': b.append("&quot;"); break;
        case '\'': b.append("&#39;"); break;
        default: b.append(c);
      }
    }
    return b.toString();
  }

  private static final String CSS = String.join("\n",
      "body{font:15px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1b1f24;background:#f4f5f7}",
      "header.headline{padding:18px 28px;color:#fff}",
      "header.headline h1{margin:0;font-size:28px}",
      "header.headline p{margin:4px 0 0;font-size:16px}",
      ".headline.good{background:#1f7a3a}.headline.warn{background:#a65f00}.headline.bad{background:#b3261e}",
      ".figures{display:flex;flex-wrap:wrap;gap:12px;padding:16px 28px}",
      ".figure{background:#fff;border-radius:6px;padding:12px 18px;min-width:150px;border-top:5px solid #999}",
      ".figure.good{border-color:#1f7a3a}.figure.warn{border-color:#a65f00}.figure.bad{border-color:#b3261e}",
      ".figure .value{font-size:30px;font-weight:600}.figure .label{color:#555}",
      "section{padding:4px 28px 12px}h2{font-size:18px;margin:14px 0 8px}",
      "table{border-collapse:collapse;width:100%;background:#fff}",
      "th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e3e5e8;vertical-align:top}",
      "th{background:#eceef1;font-weight:600}td.id{font-family:ui-monospace,monospace}",
      "td.err{color:#8a1c16}.empty{color:#555;font-style:italic}.muted{color:#666;font-size:13px}",
      "ul.alerts{background:#fdecea;border-left:5px solid #b3261e;margin:0;padding:10px 30px}",
      "ul.alerts li{margin:4px 0}footer{padding:16px 28px}");
}
