import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { onlineAgent } from "../agent-lookup.js";
import { CommandRun, type ExecParamsInit } from "../command-run.js";
import { defineTool, type ToolExtra } from "../define-tool.js";
import type { McpToolAccess } from "../mcp-tool-access.js";
import { capText } from "../output-cap.js";
import type { OutputBuffer } from "../output-buffer.js";
import { ToolError } from "../tool-error.js";
import type { ToolContext } from "../tool-context.js";

/** How long run_command waits for the command before returning a handle. Defaults to 30 s, under the common 60 s client timeout. */
export const DEFAULT_WAIT_SECONDS = 30;
/** The longest wait a call may ask for: 55 s still answers inside a 60 s client timeout. */
export const MAX_WAIT_SECONDS = 55;
/** Longest remote timeout: the server refuses more than 7 days. */
const MAX_TIMEOUT_SECONDS = 7 * 24 * 3600;
/** Progress notifications while a call waits: one a second. */
const PROGRESS_INTERVAL_MS = 1_000;

const streamSchema = z.object({
  text: z.string().describe("output since the offset asked for; the middle is cut past 16 KiB, and marked"),
  bytes: z.number().int().describe("bytes since the offset, before any cut"),
  cut_bytes: z.number().int().describe("bytes cut from the middle of text (0: none)"),
  next_offset: z.number().int().describe("pass to get_command_output to read on from here"),
  dropped_bytes: z.number().int().describe("bytes before this read that were no longer kept (over 1 MiB unread)"),
});

const commandResultSchema = z.object({
  handle: z.string().describe("names this command in get_command_output and cancel_command"),
  agent_id: z.string(),
  command: z.string(),
  state: z.enum(["running", "exited", "cancelled", "failed"]),
  pid: z.number().int().nullable(),
  exit: z
    .object({
      exit_code: z.number().int().nullable(),
      signal: z.string().nullable(),
      timed_out: z.boolean(),
      cancelled: z.boolean(),
      duration_ms: z.number().int(),
    })
    .nullable()
    .describe("set once the command has ended"),
  error: z.string().nullable().describe("why the command could not run or was cut off (state failed or cancelled)"),
  stdout: streamSchema,
  stderr: streamSchema,
});
type CommandResult = z.infer<typeof commandResultSchema>;

/** A tool's `wait_seconds`: 0 to MAX_WAIT_SECONDS, `fallback` when absent; `until` says what it waits for. */
/** A command line for a named shell, as run_command and run_job take it instead of argv. */
export const shellCommandSchema = z
  .object({
    shell: z.string().min(1).describe("the shell to run it with, e.g. /bin/sh, cmd.exe, pwsh"),
    command_line: z.string().min(1),
  })
  .optional()
  .describe("a command line for an explicitly named shell, instead of argv");

export const envSchema = z
  .record(z.string(), z.string())
  .optional()
  .describe("environment variables to add or override");

export const waitSchema = (
  fallback: number,
  until = "for the command to end before returning what it has",
): z.ZodDefault<z.ZodNumber> =>
  z
    .number()
    .min(0)
    .max(MAX_WAIT_SECONDS)
    .default(fallback)
    .describe(`seconds to wait ${until} (at most ${MAX_WAIT_SECONDS})`);

export function registerCommandTools(server: McpServer, access: McpToolAccess, ctx: ToolContext): void {
  defineTool(server, access, {
    name: "run_command",
    title: "Run a command on an agent",
    description: `Run one program on an endpoint, through the server's command policy and audit. Give argv (no shell) or shell_command with an explicit shell. Waits up to wait_seconds (default ${DEFAULT_WAIT_SECONDS}); a command still running then is returned with a handle: read on with get_command_output, end it with cancel_command. Inline output is capped at 16 KiB per stream (head and tail kept).`,
    input: z.object({
      agent: z.string().min(1).max(255).describe("agent id or hostname (list_agents)"),
      argv: z.array(z.string()).min(1).optional().describe('program and arguments, e.g. ["uname", "-a"]'),
      shell_command: shellCommandSchema,
      cwd: z.string().max(4096).optional().describe("working directory on the agent"),
      env: envSchema,
      stdin: z.string().optional().describe("written to the program's stdin, which is then closed"),
      timeout_seconds: z
        .number()
        .positive()
        .max(MAX_TIMEOUT_SECONDS)
        .optional()
        .describe("the agent ends the whole process tree after this long (default: no limit)"),
      wait_seconds: waitSchema(DEFAULT_WAIT_SECONDS),
    }),
    output: commandResultSchema,
    readOnly: false,
    destructive: true,
    async handler(args, extra) {
      if ((args.argv === undefined) === (args.shell_command === undefined))
        throw new ToolError("give exactly one of argv and shell_command");
      ctx.commands.checkRoom();
      const agent = await onlineAgent(ctx.client, args.agent);
      const params: ExecParamsInit = {
        argv: args.argv ?? [],
        ...(args.shell_command && {
          shellCommand: { shell: args.shell_command.shell, commandLine: args.shell_command.command_line },
        }),
        workingDirectory: args.cwd ?? "",
        environment: args.env ?? {},
        ...(args.timeout_seconds !== undefined && {
          timeout: {
            seconds: BigInt(Math.floor(args.timeout_seconds)),
            nanos: Math.round((args.timeout_seconds % 1) * 1e9),
          },
        }),
      };
      const lease = await ctx.sessions.acquire(agent);
      const run = CommandRun.start(ctx.client, {
        agentId: agent.id,
        sessionId: lease.sessionId,
        command: args.argv ? args.argv.join(" ") : `${args.shell_command!.shell}: ${args.shell_command!.command_line}`,
        params,
        ...(args.stdin !== undefined && { stdin: new TextEncoder().encode(args.stdin) }),
      });
      void run.done.finally(() => lease.release());
      ctx.commands.add(run);
      // An MCP cancellation of this call ends the remote command.
      const onCancel = () => run.cancel("cancelled by the MCP client");
      extra.signal.addEventListener("abort", onCancel, { once: true });
      try {
        await waitWithProgress(run, args.wait_seconds, extra);
      } finally {
        extra.signal.removeEventListener("abort", onCancel);
      }
      // Refused, not found, agent gone before it started: a tool error, not a result to read.
      if (run.state.type === "failed" && run.pid === undefined) throw new ToolError(run.state.error);
      return resultOf(run, 0, 0);
    },
  });

  defineTool(server, access, {
    name: "get_command_output",
    title: "Read a command's output",
    description:
      "Output of a command started by run_command since the given offsets (next_offset of the previous answer), and its exit status once known. Can wait for the command to end.",
    input: z.object({
      handle: z.string().min(1).max(64),
      stdout_offset: z.number().int().min(0).default(0),
      stderr_offset: z.number().int().min(0).default(0),
      wait_seconds: waitSchema(0),
    }),
    output: commandResultSchema,
    readOnly: true,
    async handler(args, extra) {
      const run = ctx.commands.get(args.handle);
      await waitWithProgress(run, args.wait_seconds, extra);
      return resultOf(run, args.stdout_offset, args.stderr_offset);
    },
  });

  defineTool(server, access, {
    name: "cancel_command",
    title: "Cancel a running command",
    description: "End a command started by run_command: its whole process tree on the agent is ended.",
    input: z.object({ handle: z.string().min(1).max(64) }),
    output: commandResultSchema,
    readOnly: false,
    destructive: true,
    async handler(args) {
      const run = ctx.commands.get(args.handle);
      run.cancel("cancelled with cancel_command");
      await run.done;
      return resultOf(run, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    },
  });
}

/** Waits for the command, sending progress notifications when the client asked for them. */
async function waitWithProgress(run: CommandRun, seconds: number, extra: ToolExtra): Promise<void> {
  const token = extra._meta?.progressToken;
  const started = Date.now();
  let sent = 0;
  const tick =
    token === undefined
      ? undefined
      : setInterval(() => {
          sent++;
          const out = run.stdout.end + run.stderr.end;
          void extra
            .sendNotification({
              method: "notifications/progress",
              params: {
                progressToken: token,
                progress: sent,
                message: `${run.command}: running for ${Math.round((Date.now() - started) / 1000)} s, ${out} bytes of output`,
              },
            })
            .catch(() => undefined);
        }, PROGRESS_INTERVAL_MS);
  try {
    await run.waitFor(seconds * 1000, extra.signal);
  } finally {
    clearInterval(tick);
  }
}

function streamOf(buffer: OutputBuffer, offset: number) {
  const read = buffer.read(offset);
  const capped = capText(read.data);
  return {
    text: capped.text,
    bytes: capped.bytes,
    cut_bytes: capped.cutBytes,
    next_offset: read.next,
    dropped_bytes: read.dropped,
  };
}

function resultOf(run: CommandRun, stdoutOffset: number, stderrOffset: number): CommandResult {
  const state = run.state;
  return {
    handle: run.handle,
    agent_id: run.agentId,
    command: run.command,
    state: state.type,
    pid: run.pid ?? null,
    exit:
      state.type === "exited"
        ? {
            exit_code: state.exit.exitCode,
            signal: state.exit.signal,
            timed_out: state.exit.timedOut,
            cancelled: state.exit.cancelled,
            duration_ms: state.exit.durationMs,
          }
        : null,
    error: state.type === "failed" ? state.error : state.type === "cancelled" ? state.reason : null,
    stdout: streamOf(run.stdout, stdoutOffset),
    stderr: streamOf(run.stderr, stderrOffset),
  };
}
