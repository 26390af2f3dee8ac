import type { Command } from "commander";

/** Adds one command module's commands to the program. */
export type RegisterCommands = (program: Command) => void;

/**
 * Every command module, in the order `rmm --help` lists them, with the
 * top-level command names it registers. A module is imported only when its
 * command runs: each pulls in the RPC stack, generated schemas and libraries
 * of its own (yaml, the progress bar, the MCP SDK), and loading all of them
 * took most of `rmm --version`'s 1 s (about 300 files) on a loaded machine.
 */
const COMMANDS: ReadonlyArray<{
  names: readonly string[];
  load: () => Promise<RegisterCommands>;
  /** The command reads the whole program (a completion script lists every command). */
  wholeProgram?: true;
}> = [
  { names: ["login", "whoami"], load: async () => (await import("./commands/login-command.js")).registerLogin },
  { names: ["agents", "agent"], load: async () => (await import("./commands/agents-command.js")).registerAgents },
  { names: ["tunnel"], load: async () => (await import("./commands/tunnel-command.js")).registerTunnel },
  { names: ["exec"], load: async () => (await import("./commands/exec-command.js")).registerExec },
  { names: ["shell"], load: async () => (await import("./commands/shell-command.js")).registerShell },
  { names: ["cp"], load: async () => (await import("./commands/copy-command.js")).registerCopy },
  { names: ["ls", "stat"], load: async () => (await import("./commands/browse-command.js")).registerBrowse },
  { names: ["forward"], load: async () => (await import("./commands/forward-command.js")).registerForward },
  { names: ["run"], load: async () => (await import("./commands/run-command.js")).registerRun },
  { names: ["jobs", "job"], load: async () => (await import("./commands/jobs-command.js")).registerJobs },
  { names: ["mcp"], load: async () => (await import("./commands/mcp-command.js")).registerMcp },
  {
    names: ["completion"],
    wholeProgram: true,
    load: async () => (await import("./commands/completion-command.js")).registerCompletion,
  },
  { names: ["context"], load: async () => (await import("./commands/context-command.js")).registerContext },
  { names: ["audit"], load: async () => (await import("./commands/audit-command.js")).registerAudit },
  { names: ["sessions"], load: async () => (await import("./commands/sessions-command.js")).registerSessions },
  {
    names: ["recordings"],
    load: async () => (await import("./commands/recordings-command.js")).registerRecordings,
  },
];

/** Root options that take a value, so the word after them is not the command. */
const ROOT_OPTIONS_WITH_VALUE = new Set(["--context"]);
/** Root flags that need no command at all. */
const VERSION_FLAGS = new Set(["-V", "--version"]);

/**
 * The command modules `args` (argv after the script) needs: the one module
 * that registers the command named, none for `--version` alone, and every
 * one otherwise, since help, `rmm completion` and commander's "did you
 * mean" for a mistyped name all list the whole program.
 */
export async function commandsFor(args: readonly string[]): Promise<RegisterCommands[]> {
  const name = commandWord(args);
  const named = name === undefined ? undefined : COMMANDS.find((c) => c.names.includes(name));
  if (named && !named.wholeProgram) return [await named.load()];
  if (name === undefined && args.length > 0 && args.every((a) => VERSION_FLAGS.has(a))) return [];
  return Promise.all(COMMANDS.map((c) => c.load()));
}

/** The first word that is neither a root option nor an option's value. */
function commandWord(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") return args[i + 1];
    if (ROOT_OPTIONS_WITH_VALUE.has(arg)) i++;
    else if (!arg.startsWith("-")) return arg;
  }
  return undefined;
}
