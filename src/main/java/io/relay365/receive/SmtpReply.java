package io.relay365.receive;

/** A refusal decided while checking a command: the reply to send, e.g. 555 "5.5.4 Unsupported parameter". */
final class SmtpReply extends Exception {
  final int code;

  SmtpReply(int code, String text) {
    super(text, null, false, false);
    this.code = code;
  }

  String line() {
    return code + " " + getMessage();
  }
}
