#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { RMM_VERSION } from "../common/version.js";
import { selectContext, serverInUse } from "./cli-config.js";
import { ExitCode, toCliError } from "./cli-error.js";
import { oneLineUsageErrors } from "./usage-errors.js";
import { registerAgents } from "./commands/agents-command.js";
import { registerAudit } from "./commands/audit-command.js";
import { registerBrowse } from "./commands/browse-command.js";
import { registerCompletion } from "./commands/completion-command.js";
import { registerContext } from "./commands/context-command.js";
import { registerCopy } from "./commands/copy-command.js";
import { registerExec } from "./commands/exec-command.js";
import { registerForward } from "./commands/forward-command.js";
import { registerJobs } from "./commands/jobs-command.js";
import { registerLogin } from "./commands/login-command.js";
import { registerRun } from "./commands/run-command.js";
import { registerMcp } from "./commands/mcp-command.js";
import { registerRecordings } from "./commands/recordings-command.js";
import { registerSessions } from "./commands/sessions-command.js";
import { registerShell } from "./commands/shell-command.js";
import { registerTunnel } from "./commands/tunnel-command.js";

const program = new Command("rmm")
  .description("the technician's client: list agents, run commands, open shells and copy files through RMM tunnels")
  .version(RMM_VERSION)
  .option("--context <name>", "the stored login to use for this command (rmm context ls); RMM_CONTEXT too")
  .hook("preAction", (root) => selectContext(root.opts<{ context?: string }>().context))
  .exitOverride();
for (const register of [
  registerLogin,
  registerAgents,
  registerTunnel,
  registerExec,
  registerShell,
  registerCopy,
  registerBrowse,
  registerForward,
  registerRun,
  registerJobs,
  registerMcp,
  registerCompletion,
  registerContext,
  registerAudit,
  registerSessions,
  registerRecordings,
])
  register(program);
oneLineUsageErrors(program);
program.addHelpText(
  "after",
  [
    "",
    "Start with: rmm login --server http://127.0.0.1:7443 --token $(rmm-server token --sub you)",
    "Environment: RMM_SERVER, RMM_TOKEN and RMM_CA_FILE override what rmm login stored; RMM_CONTEXT picks a context.",
  ].join("\n"),
);

program.parseAsync().catch((err: unknown) => {
  if (err instanceof CommanderError) {
    // Help and version are not failures; usage errors were already printed by commander.
    process.exit(err.exitCode === 0 ? 0 : ExitCode.Usage);
  }
  const error = toCliError(err, serverInUse());
  process.stderr.write(`rmm: ${error.message}\n`);
  process.exit(error.exitCode);
});
