package io.relay365.doctor;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;

/** The doctor's findings, in order; the same content as text for people and as JSON for scripts. */
public final class Report {
  private final List<Check> checks = new ArrayList<>();

  void add(Check c) {
    checks.add(c);
  }

  /** Puts {@code c} in the place of the check with the same id (a later finding revises an earlier one). */
  void replace(String id, Check c) {
    checks.replaceAll(x -> x.id().equals(id) ? c : x);
  }

  public List<Check> checks() {
    return List.copyOf(checks);
  }

  public Check get(String id) {
    return checks.stream().filter(c -> c.id().equals(id)).findFirst().orElse(null);
  }

  /** True when nothing needed for delivery failed (warnings allowed). */
  public boolean ok() {
    return checks.stream().noneMatch(c -> c.status() == Check.Status.FAIL);
  }

  public JsonObject toJson() {
    JsonArray a = new JsonArray();
    checks.forEach(c -> a.add(c.toJson()));
    return new JsonObject().put("ok", ok()).put("checks", a);
  }

  public String toText() {
    StringBuilder b = new StringBuilder();
    int width = checks.stream().mapToInt(c -> c.title().length()).max().orElse(10);
    for (Check c : checks) {
      b.append(String.format("%-5s %-" + width + "s  %s%n", label(c.status()), c.title(), c.summary()));
      if (c.fix() != null) {
        b.append(" ".repeat(6 + width + 2)).append("fix: ").append(c.fix()).append('\n');
      }
    }
    long fails = checks.stream().filter(c -> c.status() == Check.Status.FAIL).count();
    long warns = checks.stream().filter(c -> c.status() == Check.Status.WARN).count();
    b.append('\n').append(fails == 0
        ? "Everything needed to deliver works" + (warns == 0 ? "." : ", with " + warns + " warning(s).")
        : fails + " problem(s) stop delivery; fix them in the order shown (README section 2 has the steps).")
        .append('\n');
    return b.toString();
  }

  private static String label(Check.Status s) {
    switch (s) {
      case OK: return "ok";
      case WARN: return "WARN";
      case FAIL: return "FAIL";
      default: return "skip";
    }
  }
}
