package io.relay365.cli;

import io.relay365.sandbox.Sandbox;
import io.relay365.sandbox.SandboxOptions;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code relay365 sandbox}: runs the fake Microsoft 365 alone, for trying the relay by hand. */
@Command(name = "sandbox", mixinStandardHelpOptions = true,
    description = "Run the sandbox: a fake Microsoft 365 (Entra token endpoint, EWS and Microsoft Graph over HTTPS, "
        + "SMTP submission with XOAUTH2) on loopback. "
        + "Prints its URLs and writes a relay configuration fragment that points at it.")
public final class SandboxCommand implements Callable<Integer> {

  @Option(names = "--data", paramLabel = "DIR", defaultValue = "sandbox-data",
      description = "Directory for the sandbox CA, credentials and received mail (default: ${DEFAULT-VALUE}).")
  Path data;

  @Option(names = "--port", paramLabel = "PORT", defaultValue = "0",
      description = "HTTPS port on 127.0.0.1 (default: a free port).")
  int port;

  @Option(names = "--graph-port", paramLabel = "PORT", defaultValue = "-1",
      description = "HTTPS port of the Graph listener, its own origin (default: --port + 1 if --port is set, "
          + "else a free port).")
  int graphPort;

  @Option(names = "--smtp-port", paramLabel = "PORT", defaultValue = "-1",
      description = "SMTP submission port (STARTTLS + XOAUTH2) on 127.0.0.1 (default: --port + 2 if --port is set, "
          + "else a free port).")
  int smtpPort;

  @Override
  public Integer call() throws Exception {
    Vertx vertx = Vertx.vertx();
    Sandbox sandbox;
    try {
      sandbox = Sandbox.start(vertx, new SandboxOptions().dataDir(data).port(port)
          .graphPort(graphPort >= 0 ? graphPort : port == 0 ? 0 : port + 1)
          .smtpPort(smtpPort >= 0 ? smtpPort : port == 0 ? 0 : port + 2))
          .await(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      vertx.close();
      return Exits.startup(e);
    }
    Path fragment = sandbox.writeRelayConfig();
    System.out.println("relay365 sandbox (fake Microsoft 365) is running");
    System.out.println("  token endpoint  " + sandbox.loginUrl() + "/" + sandbox.tenantId() + "/oauth2/v2.0/token");
    System.out.println("  EWS             " + sandbox.ewsUrl());
    System.out.println("  Graph           " + sandbox.graphUrl());
    System.out.println("  SMTP submission " + sandbox.smtpServer() + "  (STARTTLS, AUTH XOAUTH2)");
    System.out.println("  CA certificate  " + sandbox.caFile());
    System.out.println("  received mail   " + sandbox.mailDir());
    System.out.println("  relay config    " + fragment);
    System.out.println("  faults          " + sandbox.loginUrl() + "/_sandbox/faults  (POST JSON to play Microsoft's"
        + " failures, README section 4)");
    System.out.println("Run the relay against it:  java -jar target/relay365.jar serve --config " + fragment);
    System.out.flush();
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        sandbox.close().await(10, TimeUnit.SECONDS);
        vertx.close().await(10, TimeUnit.SECONDS);
      } catch (Exception ignored) {
        // exiting anyway
      }
      stopped.countDown();
    }, "sandbox-shutdown"));
    stopped.await();
    return 0;
  }
}
