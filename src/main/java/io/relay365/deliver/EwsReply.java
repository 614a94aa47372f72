package io.relay365.deliver;

import java.io.ByteArrayInputStream;
import javax.xml.XMLConstants;
import javax.xml.stream.XMLInputFactory;
import javax.xml.stream.XMLStreamConstants;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamReader;

/**
 * What the relay needs from an EWS reply body (microsoft-wire.md §2.3–2.5), read with a streaming parser:
 * the ResponseClass and ResponseCode of the CreateItem response message, its MessageText, or for a SOAP
 * fault the detail's ResponseCode and Message; and Microsoft's BackOffMilliseconds in either. The verdict
 * on these is {@link EwsOutcomes#fromReply}'s.
 *
 * @param soap          the body was a SOAP envelope
 * @param fault         it held a soap:Fault
 * @param responseClass Success, Warning or Error (null in a fault)
 * @param code          ResponseCode (e.g. NoError, ErrorServerBusy), or null
 * @param text          MessageText, or the fault's Message / faultstring; may be null
 * @param backOffMillis BackOffMilliseconds, or null
 */
record EwsReply(boolean soap, boolean fault, String responseClass, String code, String text, Long backOffMillis) {

  static final EwsReply NONE = new EwsReply(false, false, null, null, null, null);

  private static final XMLInputFactory FACTORY = factory();

  private static XMLInputFactory factory() {
    XMLInputFactory f = XMLInputFactory.newFactory();
    // no DTDs, no external entities (OWASP XXE prevention)
    f.setProperty(XMLInputFactory.SUPPORT_DTD, false);
    f.setProperty(XMLInputFactory.IS_SUPPORTING_EXTERNAL_ENTITIES, false);
    f.setProperty(XMLConstants.ACCESS_EXTERNAL_DTD, "");
    return f;
  }

  /** Parses a reply body; {@link #NONE} if it is empty or not XML. */
  static EwsReply parse(byte[] body) {
    if (body == null || body.length == 0) {
      return NONE;
    }
    boolean soap = false;
    boolean fault = false;
    String responseClass = null;
    String code = null;
    String text = null;
    String faultString = null;
    Long backOff = null;
    try {
      XMLStreamReader r = FACTORY.createXMLStreamReader(new ByteArrayInputStream(body));
      try {
        while (r.hasNext()) {
          if (r.next() != XMLStreamConstants.START_ELEMENT) {
            continue;
          }
          String name = r.getLocalName();
          switch (name) {
            case "Envelope" -> soap = true;
            case "Fault" -> fault = true;
            case "ResponseCode" -> {
              String v = r.getElementText().strip();
              code = code == null ? v : code;
            }
            case "MessageText", "Message" -> {
              String v = r.getElementText().strip();
              text = text == null ? v : text;
            }
            case "faultstring" -> faultString = r.getElementText().strip();
            case "Value" -> {
              if ("BackOffMilliseconds".equals(r.getAttributeValue(null, "Name"))) {
                try {
                  backOff = Long.parseLong(r.getElementText().strip());
                } catch (NumberFormatException ignored) {
                  // not a number: no hint
                }
              }
            }
            default -> {
              String rc = r.getAttributeValue(null, "ResponseClass");
              if (rc != null && responseClass == null) {
                responseClass = rc;
              }
            }
          }
        }
      } finally {
        r.close();
      }
    } catch (XMLStreamException | RuntimeException e) {
      if (!soap) {
        return NONE;
      }
      // a cut-off reply: keep what was read
    }
    return new EwsReply(soap, fault, responseClass, code, text != null ? text : faultString, backOff);
  }
}
