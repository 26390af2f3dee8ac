import { Code } from "@connectrpc/connect";
import type { Command } from "commander";
import { ChannelClient } from "../../client/channel-client.js";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import { channelError } from "../channel-error.js";
import { cliContext } from "../cli-context.js";
import { CliError, ExitCode } from "../cli-error.js";
import { ESCAPE_HELP, EscapeSequence } from "../escape-sequence.js";
import { localExitStatus } from "../remote-exit.js";
import { withSession } from "../session-scope.js";
import { writeWithBackpressure } from "../stream-output.js";
import { TerminalMode } from "../terminal-mode.js";

export function registerShell(program: Command): void {
  program
    .command("shell")
    .argument("<agent>", "agent id or hostname")
    .description(
      "an interactive shell on the agent (its login shell on a pseudo-terminal); exits with the shell's status",
    )
    .option("--shell <path>", "run this shell instead of the login shell")
    .addHelpText(
      "after",
      [
        "",
        "As in ssh, after a newline: ~. leaves a session even when it hangs (exit 130), ~? lists the escapes.",
        "",
        "Examples:",
        "  rmm shell web-01",
        "  rmm shell web-01 --shell /bin/bash",
      ].join("\n"),
    )
    .action(async (agentName: string, flags: { shell?: string }) => {
      const ctx = cliContext();
      const terminal = new TerminalMode();
      const size = () => ({ columns: process.stdout.columns || 80, rows: process.stdout.rows || 24 });
      process.exitCode = await withSession(ctx, agentName, async (sessionId) => {
        const channel = await ChannelClient.open(ctx.client, {
          sessionId,
          type: ChannelType.TERMINAL,
          params: {
            case: "terminal",
            value: { shell: flags.shell ?? "", size: size(), term: process.env["TERM"] ?? "", environment: {} },
          },
        });
        const onResize = () => channel.resize(size().columns, size().rows);
        // In raw mode Ctrl-C is a byte for the remote shell; these only arrive from outside (kill).
        const onSignal = () => channel.close(Code.Canceled, "rmm shell was terminated");
        const escapes = new EscapeSequence();
        let left = false;
        // One write at a time, in order; pausing stdin meanwhile carries the agent's backpressure to a big paste.
        const onInput = (chunk: Buffer) => {
          const { send, actions } = process.stdin.isTTY ? escapes.feed(chunk) : { send: chunk, actions: [] };
          for (const action of actions) {
            if (action === "help") process.stdout.write(`\r\n${ESCAPE_HELP}\r\n`);
            else if (!left) {
              left = true;
              channel.close(Code.Canceled, "the technician left the session with ~.");
            }
          }
          if (send.length === 0 || left) return;
          process.stdin.pause();
          channel.write(send).then(
            () => process.stdin.resume(),
            () => undefined,
          );
        };
        try {
          terminal.enterRaw();
          process.stdout.on("resize", onResize);
          process.on("SIGTERM", onSignal);
          process.on("SIGHUP", onSignal);
          process.stdin.on("data", onInput);
          process.stdin.once("end", () => channel.endInput());
          for await (const data of channel.data()) await writeWithBackpressure(process.stdout, data);
          const end = await channel.ended;
          if (left) throw new CliError("left the session with ~.: the remote shell was ended", ExitCode.Interrupted);
          if (end.exit) return localExitStatus(end.exit);
          if (end.code !== 0) throw channelError(end.code, end.message);
          return 0;
        } finally {
          process.stdin.off("data", onInput);
          process.stdin.pause();
          process.stdout.off("resize", onResize);
          process.off("SIGTERM", onSignal);
          process.off("SIGHUP", onSignal);
          terminal.restore();
        }
      });
    });
}
