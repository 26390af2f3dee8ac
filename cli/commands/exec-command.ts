import { Code } from "@connectrpc/connect";
import { Option, type Command } from "commander";
import { ChannelClient } from "../../client/channel-client.js";
import { OutputStream } from "../../gen/rmm/v1/exec_pb.js";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import { parseDuration } from "../../common/duration.js";
import { cliContext } from "../cli-context.js";
import { channelError } from "../channel-error.js";
import { CliError, ExitCode, usage } from "../cli-error.js";
import { localExitStatus } from "../remote-exit.js";
import { openOneShotChannel } from "../one-shot-channel.js";
import { writeWithBackpressure } from "../stream-output.js";
import { interruptible } from "../interruptible.js";
import { eventLine, exitEvent, outputEvent } from "../exec-events.js";

interface ExecFlags {
  shell?: string;
  cwd?: string;
  env: string[];
  timeout?: string;
  output?: "text" | "json";
}

export function parseEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new CliError(`--env ${pair} is not NAME=VALUE`, ExitCode.Usage);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

export function registerExec(program: Command): void {
  program
    .command("exec")
    .argument("<agent>", "agent id or hostname")
    .argument("<command...>", "program and arguments (after --), or a command line with --shell")
    .description(
      "run a command on an agent, streaming its stdout and stderr as they arrive; exits with its exit status (128+N for signal N)",
    )
    .option("--shell <path>", "run the command line with this shell (e.g. /bin/sh -c LINE) instead of as a program")
    .option("--cwd <dir>", "working directory on the agent")
    .option(
      "--env <NAME=VALUE>",
      "environment variable for the command (repeatable)",
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option("--timeout <duration>", "end the remote process tree after this long (e.g. 30s, 5m)")
    .addOption(
      new Option("-o, --output <format>", "text (the program's own output) or json (one JSON object a line)")
        .choices(["text", "json"])
        .default("text"),
    )
    .addHelpText(
      "after",
      [
        "",
        "Local stdin is forwarded when it is not a terminal. Ctrl-C ends the remote process tree.",
        "",
        "Examples:",
        "  rmm exec web-01 -- uname -a",
        "  rmm exec web-01 --shell /bin/sh -- 'df -h | sort -k5'",
        "  rmm exec web-01 -- python3 - < script.py",
        "  rmm exec web-01 -o json -- df -h     (one line per output chunk, then the exit status)",
      ].join("\n"),
    )
    .action(async (agentName: string, command: string[], flags: ExecFlags) => {
      const ctx = cliContext();
      const json = flags.output === "json";
      const timeoutMs =
        flags.timeout === undefined ? undefined : usage(() => parseDuration(flags.timeout!, "--timeout"));
      const exec = {
        argv: flags.shell ? [] : command,
        ...(flags.shell && { shellCommand: { shell: flags.shell, commandLine: command.join(" ") } }),
        workingDirectory: flags.cwd ?? "",
        environment: parseEnv(flags.env),
        ...(timeoutMs !== undefined && {
          timeout: { seconds: BigInt(Math.floor(timeoutMs / 1000)), nanos: (timeoutMs % 1000) * 1e6 },
        }),
      };
      // One call: the server finds or opens the session (ChannelOpenParams.agent_id).
      const status = await interruptible(async (signal) => {
        const channel = await openOneShotChannel(ctx, agentName, (target) =>
          ChannelClient.open(ctx.client, {
            ...target,
            type: ChannelType.EXEC,
            params: { case: "exec", value: exec },
            signal,
          }),
        );
        signal.addEventListener("abort", () => channel.close(Code.Canceled, "interrupted by the technician (Ctrl-C)"), {
          once: true,
        });
        const input = forwardStdin(channel);
        for await (const chunk of channel.chunks()) {
          const stream = chunk.stream === OutputStream.STDERR ? "stderr" : "stdout";
          if (json) await writeWithBackpressure(process.stdout, eventLine(outputEvent(stream, chunk.data)));
          else await writeWithBackpressure(process[stream], chunk.data);
        }
        const end = await channel.ended;
        // The remote program is gone: what stdin still holds has nowhere to go, so it is not waited for.
        void input.catch(() => undefined);
        process.stdin.destroy();
        if (signal.aborted) throw new CliError("interrupted: the remote process tree was ended", ExitCode.Interrupted);
        if (end.exit) {
          if (json) await writeWithBackpressure(process.stdout, eventLine(exitEvent(end.exit)));
          if (end.exit.timedOut)
            throw new CliError(`the command timed out after ${flags.timeout} and was ended`, ExitCode.Timeout);
          return localExitStatus(end.exit);
        }
        if (end.code !== 0) throw channelError(end.code, end.message);
        return 0;
      });
      process.exitCode = status;
    });
}

/** Local stdin goes to the remote program when it is a pipe or file; a terminal would wait for typing, so the remote stdin is closed at once. */
async function forwardStdin(channel: ChannelClient): Promise<void> {
  if (!process.stdin.isTTY) {
    for await (const chunk of process.stdin) await channel.write(chunk as Buffer);
  }
  channel.endInput();
}
