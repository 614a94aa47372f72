package io.relay365.doctor;

import io.vertx.core.json.JsonObject;
import java.util.Locale;

/**
 * One line of the doctor's report.
 *
 * @param id      stable name for scripts ("token", "mailbox:fax@contoso.com")
 * @param title   what was checked, for a person
 * @param status  OK, WARN (delivers, but act soon), FAIL (cannot deliver) or SKIP (an earlier check failed)
 * @param summary what was found, one line, never a secret
 * @param fix     what to do, naming the README step, or null
 * @param step    the README's Azure step (1–7) that fixes it, or null
 */
public record Check(String id, String title, Status status, String summary, String fix, Integer step) {

  public enum Status { OK, WARN, FAIL, SKIP }

  static Check ok(String id, String title, String summary) {
    return new Check(id, title, Status.OK, summary, null, null);
  }

  static Check warn(String id, String title, String summary, String fix, Integer step) {
    return new Check(id, title, Status.WARN, summary, fix, step);
  }

  static Check fail(String id, String title, String summary, String fix, Integer step) {
    return new Check(id, title, Status.FAIL, summary, fix, step);
  }

  static Check skip(String id, String title, String why) {
    return new Check(id, title, Status.SKIP, why, null, null);
  }

  JsonObject toJson() {
    JsonObject j = new JsonObject().put("id", id).put("title", title)
        .put("status", status.name().toLowerCase(Locale.ROOT)).put("summary", summary);
    if (fix != null) {
      j.put("fix", fix);
    }
    if (step != null) {
      j.put("step", step);
    }
    return j;
  }
}
