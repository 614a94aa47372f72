package io.relay365.deliver;

import io.relay365.store.Envelope;
import java.nio.file.Path;

/**
 * One message handed to a {@link Transport}.
 *
 * @param envelope the spooled envelope (sender, recipients, id)
 * @param mailbox  the mailbox to send as (impersonate), already resolved from the sender settings
 * @param message  the spooled message.eml, exactly as accepted (trace headers included)
 */
public record Submission(Envelope envelope, String mailbox, Path message) {}
