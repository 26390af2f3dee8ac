import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { createTechnicianClient } from "../../client/technician-client.js";
import { configPath, loadConfig, saveConfig } from "../cli-config.js";
import { cliContext, tokenClaims, tokenSource } from "../cli-context.js";
import { CliError, ExitCode } from "../cli-error.js";
import { printJson } from "../output-format.js";

async function readToken(): Promise<string> {
  const rl = createInterface({ input: process.stdin, ...(process.stdin.isTTY && { output: process.stderr }) });
  try {
    const line = await rl.question(process.stdin.isTTY ? "token: " : "");
    return line.trim();
  } finally {
    rl.close();
  }
}

function describeToken(token: string): string {
  const { subject, role, expiresAt } = tokenClaims(token);
  return `${subject || "(no subject)"} (role ${role}${expiresAt ? `, token expires ${expiresAt.toISOString()}` : ""})`;
}

export function registerLogin(program: Command): void {
  program
    .command("login")
    .description(
      "store the server URL and your token (in $XDG_CONFIG_HOME/rmm/config.json, mode 0600), after checking the server accepts it",
    )
    .requiredOption("--server <url>", "server URL, e.g. https://rmm.example.com:7443 (http:// for cleartext)")
    .option("--token <jwt>", "your token; read from stdin when omitted (rmm-server token --sub NAME mints one)")
    .option("--ca <file>", "PEM CA certificate that signs the server's certificate")
    .addHelpText(
      "after",
      [
        "",
        "rmm --context NAME login ... stores the login as context NAME (default: the current one) and makes it current.",
        "",
        "Examples:",
        "  rmm login --server http://127.0.0.1:7443 --token eyJ...",
        "  rmm-server token --sub alice | rmm login --server http://127.0.0.1:7443",
        "  rmm login --context prod --server https://rmm.example.com:7443 --ca ca.pem --token eyJ...",
      ].join("\n"),
    )
    .action(async (flags: { server: string; token?: string; ca?: string }) => {
      const token = flags.token ?? (await readToken());
      if (!token) throw new CliError("no token given: pass --token or pipe one in", ExitCode.Usage);
      tokenClaims(token, flags.token ? "--token" : "the token read from stdin");
      try {
        new URL(flags.server);
      } catch {
        throw new CliError(
          `--server ${flags.server} is not a URL: use http://host:port or https://host:port`,
          ExitCode.Usage,
        );
      }
      await createTechnicianClient(flags.server, token, flags.ca ? { caFile: flags.ca } : {}).listAgents({
        pageSize: 1,
      });
      const context = saveConfig({ server: flags.server, token, ...(flags.ca && { caFile: flags.ca }) });
      process.stdout.write(
        `logged in to ${flags.server} as ${describeToken(token)}; saved as context ${context} in ${configPath()}\n`,
      );
    });

  program
    .command("whoami")
    .description("show the server and identity in use, and check the server accepts the token")
    .option("--json", "machine-readable output")
    .action(async (flags: { json?: boolean }) => {
      const ctx = cliContext();
      await ctx.client.listAgents({ pageSize: 1 });
      const { subject, role, expiresAt } = tokenClaims(loadConfig().token, tokenSource());
      if (flags.json)
        printJson({ server: ctx.config.server, subject, role, expiresAt: expiresAt?.toISOString() ?? null });
      else
        process.stdout.write(
          `${subject} (role ${role}) on ${ctx.config.server}${expiresAt ? `; token expires ${expiresAt.toISOString()}` : ""}\n`,
        );
    });
}
