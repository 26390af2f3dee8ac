import type { Command } from "commander";
import { configPath, contextName, readConfig, writeConfig } from "../cli-config.js";
import { tokenClaims } from "../cli-context.js";
import { CliError, ExitCode } from "../cli-error.js";
import { outputFormat, printListing, withOutputOption, type OutputFlags } from "../output-option.js";

interface ContextRow {
  name: string;
  current: boolean;
  server: string;
  subject: string;
  role: string;
  expires: string | null;
}

export function registerContext(program: Command): void {
  const context = program
    .command("context")
    .description("named logins to several servers, as kubectl and tsh keep them: rmm context ls|use NAME");
  withOutputOption(context.command("ls"))
    .description("list the stored contexts; * marks the one in use")
    .addHelpText(
      "after",
      "\nExamples:\n  rmm login --context prod --server https://rmm.example.com:7443\n  rmm context ls",
    )
    .action((flags: OutputFlags) => {
      const file = readConfig();
      const inUse = contextName();
      const rows: ContextRow[] = Object.entries(file.contexts).map(([name, c]) => {
        const claims = safeClaims(c.token);
        return { name, current: name === inUse, server: c.server, ...claims };
      });
      printListing(outputFormat(flags), rows, {
        columns: [
          { header: "CURRENT", cell: (r) => (r.current ? "*" : "") },
          { header: "NAME", cell: (r) => r.name },
          { header: "SERVER", cell: (r) => r.server },
          { header: "SUBJECT", cell: (r) => r.subject },
          { header: "ROLE", cell: (r) => r.role, wide: true },
          { header: "TOKEN EXPIRES", cell: (r) => r.expires ?? "-", wide: true },
        ],
        record: (r) => r,
      });
    });
  context
    .command("use")
    .argument("<name>", "a context from rmm context ls")
    .description("make a context the current one for later commands")
    .addHelpText("after", "\nExample:\n  rmm context use prod")
    .action((name: string) => {
      const file = readConfig();
      if (!file.contexts[name])
        throw new CliError(
          `no context ${name}: rmm context ls lists them (${Object.keys(file.contexts).join(", ") || "none yet"})`,
          ExitCode.NotFound,
        );
      writeConfig({ ...file, current: name });
      process.stdout.write(`using context ${name} (${file.contexts[name]!.server}); saved in ${configPath()}\n`);
    });
}

/** A stored token that no longer parses is shown, not fatal: the listing is how one finds it. */
function safeClaims(token: string): Pick<ContextRow, "subject" | "role" | "expires"> {
  try {
    const { subject, role, expiresAt } = tokenClaims(token);
    return { subject, role, expires: expiresAt?.toISOString() ?? null };
  } catch {
    return { subject: "(unreadable token)", role: "-", expires: null };
  }
}
