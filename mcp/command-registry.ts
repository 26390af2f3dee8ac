import { ToolError } from "./tool-error.js";
import type { CommandRun } from "./command-run.js";

/** Commands one MCP session may have running at once. Defaults to 8: each holds an Exec call and its buffers. */
export const MAX_RUNNING_COMMANDS = 8;
/** Finished commands kept for get_command_output. Defaults to 32, oldest dropped first. */
export const MAX_FINISHED_COMMANDS = 32;

/** The commands of one MCP session, by handle. */
export class CommandRegistry {
  private readonly runs = new Map<string, CommandRun>();

  /** Fails with a tool error when the session already runs its limit. */
  checkRoom(): void {
    const running = [...this.runs.values()].filter((r) => r.state.type === "running").length;
    if (running >= MAX_RUNNING_COMMANDS)
      throw new ToolError(
        `${running} commands are still running (the limit is ${MAX_RUNNING_COMMANDS}): wait for one with get_command_output or end one with cancel_command`,
      );
  }

  add(run: CommandRun): void {
    this.runs.set(run.handle, run);
    const finished = [...this.runs.values()].filter((r) => r.state.type !== "running");
    for (const old of finished.slice(0, Math.max(0, finished.length - MAX_FINISHED_COMMANDS)))
      this.runs.delete(old.handle);
  }

  get(handle: string): CommandRun {
    const run = this.runs.get(handle);
    if (!run)
      throw new ToolError(
        `no command ${handle} in this MCP session (handles last for the session, and only the ${MAX_FINISHED_COMMANDS} latest finished ones are kept)`,
      );
    return run;
  }

  /** Cancels every running command and waits for their calls to end. */
  async close(reason: string): Promise<void> {
    for (const run of this.runs.values()) run.cancel(reason);
    await Promise.allSettled([...this.runs.values()].map((r) => r.done));
  }
}
