package io.relay365.admin;

import java.time.Instant;

/**
 * The outcome of the last "can a token be had?" check: never the token itself.
 *
 * @param ok      a token was available
 * @param problem one line without secrets when not ok (TokenException's message and hint)
 */
public record TokenState(boolean ok, String problem, Instant checked) {}
