package io.relay365.deliver;

/**
 * Every row of {@link EwsTransportTest} again, with every message sent as the streamed CreateItem (the way
 * messages above {@link EwsTransport#STREAM_ABOVE} go): same request (MIME without Bcc:, BccRecipients,
 * impersonation, Authorization, X-AnchorMailbox, disposition), same classification, same token retry, same
 * TLS refusal, same worker pool.
 */
class StreamedEwsTransportTest extends EwsTransportTest {
  @Override
  long streamAbove() {
    return 0;
  }
}
