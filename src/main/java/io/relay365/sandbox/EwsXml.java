package io.relay365.sandbox;

import java.util.Map;

/**
 * The SOAP replies of the sandbox EWS, in the shapes of microsoft-wire.md §2.3–2.5 (which ews-java-api 2.0
 * parses: a 200 reply must carry an s:Header, §2.3 and libraries.md §4).
 */
final class EwsXml {
  static final String SOAP = "http://schemas.xmlsoap.org/soap/envelope/";
  static final String T = "http://schemas.microsoft.com/exchange/services/2006/types";
  static final String M = "http://schemas.microsoft.com/exchange/services/2006/messages";
  static final String E = "http://schemas.microsoft.com/exchange/services/2006/errors";

  /** MessageText / faultstring of each ResponseCode the sandbox can produce (from real replies where known). */
  static final Map<String, String> TEXTS = Map.ofEntries(
      Map.entry("ErrorServerBusy", "The server cannot service this request right now. Try again later."),
      Map.entry("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
      Map.entry("ErrorImpersonateUserDenied", "The account does not have permission to impersonate the requested user."),
      Map.entry("ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it."),
      Map.entry("ErrorInvalidExchangeImpersonationHeaderData",
          "ExchangeImpersonation SOAP header must be present for this type of OAuth token."),
      Map.entry("ErrorSchemaValidation", "The request failed schema validation."),
      Map.entry("ErrorSendAsDenied", "The user account which was used to submit this request does not have the right"
          + " to send mail on behalf of the specified sending account."),
      Map.entry("ErrorMessageSizeExceeded", "The message exceeds the maximum supported size."),
      Map.entry("ErrorExceededConnectionCount", "You have exceeded the available concurrent connections for your"
          + " account.  Try again once your other requests have completed."),
      Map.entry("ErrorSubmissionQuotaExceeded", "Cannot submit message. The submission quota has been exceeded."),
      Map.entry("ErrorInternalServerError", "An internal server error occurred. The operation failed."),
      Map.entry("ErrorMailboxStoreUnavailable", "The mailbox database is temporarily unavailable."),
      Map.entry("ErrorMailboxMoveInProgress", "The mailbox is being moved. Try again later."),
      Map.entry("ErrorMessageDispositionRequired", "MessageDisposition attribute is required."),
      Map.entry("ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content."),
      Map.entry("ErrorMimeContentInvalid", "The MIME content is not valid."),
      Map.entry("ErrorMimeContentConversionFailed", "Content conversion failed."),
      Map.entry("ErrorInvalidRecipients", "At least one recipient isn't valid."),
      Map.entry("ErrorInvalidSmtpAddress", "The SMTP address format is invalid."),
      Map.entry("ErrorQuotaExceeded", "The mailbox quota has been exceeded."),
      Map.entry("ErrorAccountDisabled", "The specified account is disabled."),
      Map.entry("ErrorInvalidLicense", "The mailbox is not licensed for this operation."),
      Map.entry("ErrorSavedItemFolderNotFound", "The folder to save the item to could not be found."),
      Map.entry("ErrorFolderNotFound", "The specified folder could not be found in the store."),
      Map.entry("ErrorInvalidRequest", "The request is invalid."),
      Map.entry("ErrorInvalidOperation", "The operation is not valid."));

  private static final String SERVER_VERSION = "<s:Header><h:ServerVersionInfo MajorVersion=\"15\" MinorVersion=\"20\""
      + " MajorBuildNumber=\"7000\" MinorBuildNumber=\"20\" Version=\"V2018_01_08\" xmlns:h=\"" + T + "\"/></s:Header>";

  private EwsXml() {}

  static String text(String code) {
    return TEXTS.getOrDefault(code, "The request failed (" + code + ").");
  }

  static String createItemSuccess() {
    return envelope("<m:CreateItemResponse xmlns:m=\"" + M + "\" xmlns:t=\"" + T + "\"><m:ResponseMessages>"
        + "<m:CreateItemResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError</m:ResponseCode><m:Items/>"
        + "</m:CreateItemResponseMessage></m:ResponseMessages></m:CreateItemResponse>");
  }

  /** §2.4: an operation error inside HTTP 200; children in schema order MessageText, ResponseCode, DescriptiveLinkKey, MessageXml, Items. */
  static String responseError(String operation, String code, String message, Long backOffMillis) {
    String xml = backOffMillis == null ? "" : "<m:MessageXml><t:Value Name=\"BackOffMilliseconds\">" + backOffMillis
        + "</t:Value></m:MessageXml>";
    String tail = operation.equals("GetFolder") ? "<m:Folders/>" : "<m:Items/>";
    return envelope("<m:" + operation + "Response xmlns:m=\"" + M + "\" xmlns:t=\"" + T + "\"><m:ResponseMessages>"
        + "<m:" + operation + "ResponseMessage ResponseClass=\"Error\"><m:MessageText>" + esc(message)
        + "</m:MessageText><m:ResponseCode>" + code + "</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
        + xml + tail + "</m:" + operation + "ResponseMessage></m:ResponseMessages></m:" + operation + "Response>");
  }

  /** §2.5: HTTP 500 SOAP fault. {@code line}/{@code position} only for ErrorSchemaValidation. */
  static String fault(String code, String message, Long backOffMillis, Integer line, Integer position) {
    StringBuilder d = new StringBuilder();
    d.append("<e:ResponseCode xmlns:e=\"").append(E).append("\">").append(code).append("</e:ResponseCode>");
    d.append("<e:Message xmlns:e=\"").append(E).append("\">").append(esc(message)).append("</e:Message>");
    if (line != null) {
      d.append("<e:Line xmlns:e=\"").append(E).append("\">").append(line).append("</e:Line>");
      d.append("<e:Position xmlns:e=\"").append(E).append("\">").append(position).append("</e:Position>");
    }
    if (backOffMillis != null) {
      d.append("<t:MessageXml xmlns:t=\"").append(T).append("\"><t:Value Name=\"BackOffMilliseconds\">")
          .append(backOffMillis).append("</t:Value></t:MessageXml>");
    }
    return "<?xml version=\"1.0\" encoding=\"utf-8\"?><s:Envelope xmlns:s=\"" + SOAP + "\"><s:Body><s:Fault>"
        + "<faultcode xmlns:a=\"" + T + "\">a:" + code + "</faultcode>"
        + "<faultstring xml:lang=\"en-US\">" + esc(message) + "</faultstring><detail>" + d
        + "</detail></s:Fault></s:Body></s:Envelope>";
  }

  /** A minimal successful GetFolder reply for one distinguished folder (enough for a connectivity check). */
  static String getFolderSuccess(String distinguishedId, String displayName, int totalCount) {
    String id = java.util.Base64.getEncoder().encodeToString(("sandbox-folder-" + distinguishedId)
        .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    return envelope("<m:GetFolderResponse xmlns:m=\"" + M + "\" xmlns:t=\"" + T + "\"><m:ResponseMessages>"
        + "<m:GetFolderResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError</m:ResponseCode><m:Folders>"
        + "<t:Folder><t:FolderId Id=\"" + id + "\" ChangeKey=\"AQAAAA==\"/><t:FolderClass>IPF.Note</t:FolderClass>"
        + "<t:DisplayName>" + esc(displayName) + "</t:DisplayName><t:TotalCount>" + totalCount + "</t:TotalCount>"
        + "<t:ChildFolderCount>0</t:ChildFolderCount><t:UnreadCount>0</t:UnreadCount></t:Folder></m:Folders>"
        + "</m:GetFolderResponseMessage></m:ResponseMessages></m:GetFolderResponse>");
  }

  private static String envelope(String body) {
    return "<?xml version=\"1.0\" encoding=\"utf-8\"?><s:Envelope xmlns:s=\"" + SOAP + "\">" + SERVER_VERSION
        + "<s:Body>" + body + "</s:Body></s:Envelope>";
  }

  static String esc(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
  }
}
