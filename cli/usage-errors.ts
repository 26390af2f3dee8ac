import type { Command } from "commander";

/**
 * A usage error is one line naming the mistake, then where the help is, for
 * every command and subcommand: the whole help after it buries the error.
 * Called once all commands are registered, since it walks the tree.
 */
export function oneLineUsageErrors(program: Command): void {
  const walk = (cmd: Command, path: string) => {
    cmd.showHelpAfterError(`see ${path} --help`);
    cmd.configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, "rmm: ")) });
    for (const sub of cmd.commands) walk(sub, `${path} ${sub.name()}`);
  };
  walk(program, "rmm");
}
