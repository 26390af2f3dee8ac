import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { Command } from "commander";
import { CloseReason, SessionState, type TunnelSession } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { requireOnline, resolveAgent } from "../agent-resolver.js";
import { cliContext, type CliContext } from "../cli-context.js";
import { CliError, ExitCode } from "../cli-error.js";
import { outputFormat, printRecord, withOutputOption, type OutputFlags } from "../output-option.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const iso = (ts: Timestamp | undefined) => (ts ? timestampDate(ts).toISOString() : null);

function sessionJson(s: TunnelSession) {
  return {
    id: s.id,
    agentId: s.agentId,
    technician: s.technician,
    state: SessionState[s.state]?.toLowerCase() ?? String(s.state),
    closeReason: s.closeReason ? (CloseReason[s.closeReason]?.toLowerCase() ?? String(s.closeReason)) : null,
    closeMessage: s.closeMessage || null,
    openTime: iso(s.openTime),
    readyTime: iso(s.readyTime),
    closeTime: iso(s.closeTime),
  };
}

function printSession(s: TunnelSession, flags: OutputFlags): void {
  printRecord(outputFormat(flags), sessionJson(s), () => sessionText(s));
}

function sessionText(s: TunnelSession): string {
  const j = sessionJson(s);
  const lines = [
    `session ${j.id}`,
    `  agent      ${j.agentId}`,
    `  technician ${j.technician}`,
    `  state      ${j.state}`,
    `  opened     ${j.openTime ?? "-"}`,
  ];
  if (j.readyTime) lines.push(`  ready      ${j.readyTime}`);
  if (j.closeTime)
    lines.push(`  closed     ${j.closeTime} (${j.closeReason}${j.closeMessage ? `: ${j.closeMessage}` : ""})`);
  return lines.join("\n") + "\n";
}

/** The active session of the named agent, or else a session id as given (agent ids are UUIDs too, so agents are looked up first). */
async function sessionIdOf(ctx: CliContext, target: string): Promise<string> {
  const agent = await resolveAgent(ctx.client, target).catch((err: unknown) => {
    if (UUID.test(target) && err instanceof CliError && err.exitCode === ExitCode.NotFound) return undefined;
    throw err;
  });
  if (!agent) return target;
  if (!agent.activeSessionId)
    throw new CliError(`agent ${agent.hostname || agent.id} has no open tunnel`, ExitCode.NotFound);
  return agent.activeSessionId;
}

export function registerTunnel(program: Command): void {
  const tunnel = program.command("tunnel").description("open, close and inspect tunnel sessions");
  withOutputOption(tunnel.command("open"))
    .argument("<agent>", "agent id or hostname")
    .option("--exclusive", "refused while anyone else holds a session on the agent; keeps everyone else out meanwhile")
    .description("open a tunnel session to an online agent; it stays open until closed or idle")
    .addHelpText("after", "\nExamples:\n  rmm tunnel open web-01\n  rmm tunnel open web-01 --exclusive")
    .action(async (agentName: string, flags: OutputFlags & { exclusive?: boolean }) => {
      const ctx = cliContext();
      const agent = await resolveAgent(ctx.client, agentName);
      requireOnline(agent);
      const { session } = await ctx.client.openTunnel({ agentId: agent.id, exclusive: flags.exclusive === true });
      printSession(session!, flags);
    });
  withOutputOption(tunnel.command("close"))
    .argument("<target>", "session id, or an agent id/hostname to close its open session")
    .description("close a tunnel session you own (admins: any)")
    .addHelpText(
      "after",
      "\nExamples:\n  rmm tunnel close web-01\n  rmm tunnel close 0b7e5f0e-3c1a-4a57-9d7e-2f8f4f3f0a11",
    )
    .action(async (target: string, flags: OutputFlags) => {
      const ctx = cliContext();
      const { session } = await ctx.client.closeTunnel({ sessionId: await sessionIdOf(ctx, target) });
      printSession(session!, flags);
    });
  withOutputOption(tunnel.command("status"))
    .argument("<target>", "session id, or an agent id/hostname for its open session")
    .description("show a tunnel session")
    .addHelpText("after", "\nExample:\n  rmm tunnel status web-01 --json")
    .action(async (target: string, flags: OutputFlags) => {
      const ctx = cliContext();
      const { session } = await ctx.client.getTunnelStatus({ sessionId: await sessionIdOf(ctx, target) });
      printSession(session!, flags);
    });
}
