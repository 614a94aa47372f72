package io.relay365.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Vertx;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** "Sandbox down" tests restart it on the same dataDir and port: to the relay it must be the same service. */
class SandboxRestartTest {
  @TempDir
  Path dir;

  @Test
  void restartKeepsCaSecretTokensNumberingAndMail() throws Exception {
    Vertx vertx = Vertx.vertx();
    SandboxFixture first = new SandboxFixture(vertx, new SandboxOptions().dataDir(dir));
    String token = first.token();
    assertThat(first.ews(SandboxFixture.validCreateItem("a@contoso.com"), "Authorization", "Bearer " + token,
        "X-AnchorMailbox", "a@contoso.com").statusCode()).isEqualTo(200);
    String ca = Files.readString(first.sandbox.caFile());
    String secret = first.sandbox.clientSecret();
    int port = first.sandbox.port();
    Path fragment = first.sandbox.writeRelayConfig();
    first.sandbox.close().toCompletionStage().toCompletableFuture().get();

    SandboxFixture second = new SandboxFixture(vertx, new SandboxOptions().dataDir(dir).port(port));
    try {
      assertThat(second.sandbox.port()).isEqualTo(port);
      assertThat(Files.readString(second.sandbox.caFile())).isEqualTo(ca);
      assertThat(second.sandbox.clientSecret()).isEqualTo(secret);
      // a token cached by the relay before the restart is still good; the old trust still verifies TLS
      HttpResponse<String> r = first.ews(SandboxFixture.validCreateItem("a@contoso.com"), "Authorization",
          "Bearer " + token, "X-AnchorMailbox", "a@contoso.com");
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(second.sandbox.received()).extracting(ReceivedMessage::seq).containsExactly(1, 2);
      assertThat(second.sandbox.mailDir().resolve("000002.eml")).exists();
    } finally {
      second.close();
    }

    assertThat(Files.readString(fragment)).contains("client-secret: \"" + secret + "\"")
        .contains("login-url: \"https://127.0.0.1:" + port + "\"")
        .contains("ca-file: \"" + dir.resolve("ca.pem").toAbsolutePath() + "\"")
        .contains("url: \"https://127.0.0.1:" + port + "/EWS/Exchange.asmx\"");
    for (String secretFile : new String[] {"ca-key.pem", "client-secret", "client-key.pem", "token-signing-key.pem",
        "relay-fragment.yaml"}) {
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve(secretFile))))
          .as(secretFile).isEqualTo("rw-------");
    }
  }
}
