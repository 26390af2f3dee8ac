#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { RMM_VERSION } from "../common/version.js";
import { commandsFor } from "./command-table.js";
import { oneLineUsageErrors } from "./usage-errors.js";

const program = new Command("rmm")
  .description("the technician's client: list agents, run commands, open shells and copy files through RMM tunnels")
  .version(RMM_VERSION)
  .option("--context <name>", "the stored login to use for this command (rmm context ls); RMM_CONTEXT too")
  // Loaded here, not above: `rmm --version` needs neither the config nor the RPC stack cli-config's errors bring.
  .hook("preAction", async (root) =>
    (await import("./cli-config.js")).selectContext(root.opts<{ context?: string }>().context),
  )
  .exitOverride();
// Only the command being run is loaded (each pulls in its own RPC clients and libraries); see command-table.ts.
for (const register of await commandsFor(process.argv.slice(2))) register(program);
oneLineUsageErrors(program);
program.addHelpText(
  "after",
  [
    "",
    "Start with: rmm login --server http://127.0.0.1:7443 --token $(rmm-server token --sub you)",
    "Environment: RMM_SERVER, RMM_TOKEN and RMM_CA_FILE override what rmm login stored; RMM_CONTEXT picks a context.",
  ].join("\n"),
);

program.parseAsync().catch(async (err: unknown) => {
  // Help and version are not failures, and need nothing more loaded to say so.
  if (err instanceof CommanderError && err.exitCode === 0) process.exit(0);
  const [{ ExitCode, toCliError }, { serverInUse }] = await Promise.all([
    import("./cli-error.js"),
    import("./cli-config.js"),
  ]);
  // Usage errors were already printed by commander.
  if (err instanceof CommanderError) process.exit(ExitCode.Usage);
  const error = toCliError(err, serverInUse());
  process.stderr.write(`rmm: ${error.message}\n`);
  process.exit(error.exitCode);
});
