import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Command } from "commander";
import type { Agent } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { listAllAgents } from "../agent-resolver.js";
import { cliContext } from "../cli-context.js";
import { formatTime, printJson, table } from "../output-format.js";

function agentJson(a: Agent) {
  return {
    id: a.id,
    hostname: a.hostname,
    os: a.os,
    agentVersion: a.agentVersion,
    online: a.online,
    lastSeen: a.lastSeenTime ? timestampDate(a.lastSeenTime).toISOString() : null,
    activeSessionId: a.activeSessionId || null,
    revoked: a.revoked,
    labels: a.labels,
    serverLabels: a.serverLabels,
  };
}

export function registerAgents(program: Command): void {
  program
    .command("agents")
    .description("list enrolled agents: id, hostname, OS, online, last seen, active session")
    .option("--online", "only agents connected now")
    .option("-l, --selector <selector>", "only agents whose labels match (env=prod,role!=db,tier in (web,api),!old)")
    .option("--hostname <glob>", "only agents whose hostname matches (exact, or * and ?)")
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      "\nExamples:\n  rmm agents --online\n  rmm agents -l env=prod,role!=db\n  rmm agents --json | jq -r '.[] | select(.online) | .hostname'",
    )
    .action(async (flags: { online?: boolean; json?: boolean; selector?: string; hostname?: string }) => {
      const agents = await listAllAgents(cliContext().client, flags.online ?? false, {
        ...(flags.selector !== undefined && { selector: flags.selector }),
        ...(flags.hostname !== undefined && { hostname: flags.hostname }),
      });
      if (flags.json) return printJson(agents.map(agentJson));
      process.stdout.write(
        table(
          ["ID", "HOSTNAME", "OS", "ONLINE", "LAST SEEN", "SESSION", "LABELS"],
          agents.map((a) => [
            a.id,
            a.hostname,
            a.os,
            a.revoked ? "revoked" : a.online ? "yes" : "no",
            formatTime(a.lastSeenTime),
            a.activeSessionId || "-",
            Object.entries(a.labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(",") || "-",
          ]),
        ),
      );
    });
}
