import type { Command } from "commander";
import { AGENT_LISTING, describeAgent } from "../agent-record.js";
import { listAllAgents, resolveAgent } from "../agent-resolver.js";
import { cliContext } from "../cli-context.js";
import { formatValue, outputFormat, printListing, withOutputOption, type OutputFlags } from "../output-option.js";

export function registerAgents(program: Command): void {
  const agents = withOutputOption(
    program
      .command("agents")
      .description("list enrolled agents: id, hostname, OS, online, last seen, active session (-o wide: health too)")
      .option("--online", "only agents connected now")
      .option("-l, --selector <selector>", "only agents whose labels match (env=prod,role!=db,tier in (web,api),!old)")
      .option("--hostname <glob>", "only agents whose hostname matches (exact, or * and ?)"),
  )
    .addHelpText(
      "after",
      [
        "",
        "-o wide adds the agent version and its last heartbeat: uptime, load, memory and disk in use.",
        "",
        "Examples:",
        "  rmm agents --online -o wide",
        "  rmm agents -l env=prod,role!=db",
        "  rmm agents -o json | jq -r '.[] | select(.online) | .hostname'",
        "  rmm agents rm 3f2a    (admins: remove a stale enrollment)",
      ].join("\n"),
    )
    .action(async (flags: OutputFlags & { online?: boolean; selector?: string; hostname?: string }) => {
      const agents = await listAllAgents(cliContext().client, flags.online ?? false, {
        ...(flags.selector !== undefined && { selector: flags.selector }),
        ...(flags.hostname !== undefined && { hostname: flags.hostname }),
      });
      printListing(outputFormat(flags), agents, AGENT_LISTING);
    });
  agents
    .command("rm")
    .argument("<agent>", "agent id, id prefix or hostname")
    .description("remove a stale enrollment (admins): its row and sessions go, its audit events stay")
    .addHelpText(
      "after",
      "\nA connected agent is refused: revoke it first (rmm-server revoke-agent ID).\n\nExample:\n  rmm agents rm 3f2a91c0",
    )
    .action(async (name: string) => {
      const ctx = cliContext();
      const agent = await resolveAgent(ctx.client, name);
      await ctx.client.deleteAgent({ agentId: agent.id });
      process.stdout.write(`removed agent ${agent.hostname ? `${agent.hostname} (${agent.id})` : agent.id}\n`);
    });

  const one = program.command("agent").description("one agent: rmm agent show ID");
  withOutputOption(
    one
      .command("show")
      .argument("<agent>", "agent id, id prefix or hostname")
      .description("show an agent: identity, state, capabilities and its last heartbeat (uptime, load, memory, disk)"),
  )
    .addHelpText("after", "\nExamples:\n  rmm agent show web-01\n  rmm agent show 3f2a -o yaml")
    .action(async (name: string, flags: OutputFlags) => {
      const ctx = cliContext();
      const { agent } = await ctx.client.getAgent({ agentId: (await resolveAgent(ctx.client, name)).id });
      const format = outputFormat(flags);
      process.stdout.write(
        format === "json" || format === "yaml"
          ? formatValue(format, AGENT_LISTING.record(agent!))
          : describeAgent(agent!),
      );
    });
}
