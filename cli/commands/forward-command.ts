import { Code } from "@connectrpc/connect";
import type { Command } from "commander";
import { ListenError, PortForward, type ForwardedConnection } from "../../client/port-forward.js";
import { formatTarget } from "../../common/forward-target.js";
import { SessionState } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { cliContext, type CliContext } from "../cli-context.js";
import { CliError, ExitCode, usage } from "../cli-error.js";
import { parseForwardSpec } from "../forward-spec.js";
import { interruptible } from "../interruptible.js";
import { formatBytes } from "../output-format.js";
import { withSession } from "../session-scope.js";

/** How often an idle forward asks whether its session is still active. 15 s: a closed session is noticed soon, at one cheap call. */
const SESSION_CHECK_MS = 15_000;

export function registerForward(program: Command): void {
  program
    .command("forward")
    .argument("<agent>", "agent id or hostname")
    .argument("<spec...>", "[LOCAL_ADDR:]LOCAL_PORT:HOST:PORT, as ssh -L (LOCAL_PORT 0 picks a free one)")
    .description(
      "forward local TCP ports through the agent to HOST:PORT (a service on or near the endpoint) until Ctrl-C",
    )
    .addHelpText(
      "after",
      "\nListens on 127.0.0.1 unless LOCAL_ADDR says otherwise; HOST is resolved by the agent.\nEach connection gets a line when it ends; Ctrl-C closes everything and prints a summary.\n\nExamples:\n  rmm forward web-01 8080:localhost:80\n  rmm forward web-01 0:localhost:3389 5901:localhost:5900\n  rmm forward web-01 8443:10.0.0.1:443",
    )
    .action(async (agentName: string, specTexts: string[]) => {
      const specs = specTexts.map((t) => usage(() => parseForwardSpec(t)));
      const ctx = cliContext();
      await withSession(ctx, agentName, (sessionId, agent) =>
        interruptible(async (signal) => {
          const totals = { connections: 0, failed: 0, bytesOut: 0, bytesIn: 0 };
          let sessionEnded: ((why: string) => void) | undefined;
          const ended = new Promise<string>((resolve) => (sessionEnded = resolve));
          const checkSession = () =>
            sessionGone(ctx, sessionId).then(
              (why) => why && sessionEnded?.(why),
              () => undefined,
            );
          const onConnection = (c: ForwardedConnection) => {
            totals.connections++;
            totals.bytesOut += c.bytesOut;
            totals.bytesIn += c.bytesIn;
            if (c.error) totals.failed++;
            process.stdout.write(connectionLine(c) + "\n");
            if (c.error && (c.error.code === Code.FailedPrecondition || c.error.code === Code.Unavailable))
              void checkSession();
          };
          let forward: PortForward;
          try {
            forward = await PortForward.listen(ctx.client, { sessionId, specs, onConnection });
          } catch (err) {
            if (err instanceof ListenError)
              throw new CliError(err.message, err.errno === "EACCES" ? ExitCode.PermissionDenied : ExitCode.Conflict);
            throw err;
          }
          const name = agent.hostname || agent.id;
          for (const l of forward.listeners)
            process.stdout.write(`forwarding ${formatTarget(l)} -> ${formatTarget(l.target)} on ${name}\n`);
          const timer = setInterval(() => void checkSession(), SESSION_CHECK_MS);
          try {
            const why = await Promise.race([
              ended,
              new Promise<undefined>((resolve) => signal.addEventListener("abort", () => resolve(undefined))),
            ]);
            await forward.close(why ?? "interrupted by the technician (Ctrl-C)");
            const summary = `${totals.connections} connection${totals.connections === 1 ? "" : "s"}${
              totals.failed > 0 ? ` (${totals.failed} failed)` : ""
            }, ${formatBytes(totals.bytesOut)} out, ${formatBytes(totals.bytesIn)} in`;
            if (why) throw new CliError(`forward stopped: ${why}; ${summary}`, ExitCode.Unavailable);
            throw new CliError(`forward stopped: ${summary}`, ExitCode.Interrupted);
          } finally {
            clearInterval(timer);
          }
        }),
      );
    });
}

/** One line per connection: who, where, how much, how long, and what went wrong. */
function connectionLine(c: ForwardedConnection): string {
  const head = `${c.from} -> ${formatTarget(c.target)}`;
  const seconds = `${(c.durationMs / 1000).toFixed(1)} s`;
  if (c.error) return `${head}: ${c.error.message} (${Code[c.error.code] ?? c.error.code}) after ${seconds}`;
  return `${head}: ${formatBytes(c.bytesOut)} out, ${formatBytes(c.bytesIn)} in, ${seconds}`;
}

/** Why the session is no longer usable, or undefined while it is active. */
async function sessionGone(ctx: CliContext, sessionId: string): Promise<string | undefined> {
  const { session } = await ctx.client.getTunnelStatus({ sessionId });
  if (session?.state === SessionState.ACTIVE) return undefined;
  return `the tunnel session ${sessionId} was closed${session?.closeMessage ? ` (${session.closeMessage})` : ""}`;
}
