import { timestampDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Command } from "commander";
import type { AuditEvent } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { agentIdOf, parseLimit, parseTimeBound } from "../history-flags.js";
import { cliContext } from "../cli-context.js";
import { usage } from "../cli-error.js";
import { formatTime } from "../output-format.js";
import { outputFormat, printListing, withOutputOption, type OutputFlags } from "../output-option.js";

interface AuditFlags extends OutputFlags {
  since?: string;
  until?: string;
  agent?: string;
  tech?: string;
  action?: string;
  outcome?: string;
  limit: string;
}

export function registerAudit(program: Command): void {
  withOutputOption(program.command("audit"))
    .description("the audit trail, newest first: who did what to which agent, and how it ended (yours; admins: all)")
    .option("--since <when>", "events since a duration ago (1h, 2d) or an ISO time")
    .option("--until <when>", "events before a duration ago or an ISO time")
    .option("--agent <agent>", "events about this agent (id, id prefix or hostname)")
    .option("--tech <subject>", "events caused by this technician (admins; yours by default)")
    .option("--action <action>", "one action, e.g. tunnel.open, agent.delete")
    .option("--outcome <outcome>", "ok, refused or error")
    .option("--limit <n>", "at most this many events", "100")
    .addHelpText(
      "after",
      [
        "",
        "Examples:",
        "  rmm audit --since 1h",
        "  rmm audit --agent web-01 --outcome refused -o wide",
        "  rmm audit --tech alice --since 2026-12-01T00:00Z -o json",
      ].join("\n"),
    )
    .action(async (flags: AuditFlags) => {
      const ctx = cliContext();
      const limit = usage(() => parseLimit(flags.limit));
      const since = flags.since === undefined ? undefined : usage(() => parseTimeBound(flags.since!, "--since"));
      const until = flags.until === undefined ? undefined : usage(() => parseTimeBound(flags.until!, "--until"));
      const agentId = flags.agent === undefined ? "" : await agentIdOf(ctx.client, flags.agent);
      const events: AuditEvent[] = [];
      let pageToken = "";
      do {
        const page = await ctx.client.listAuditEvents({
          actor: flags.tech ? `tech:${flags.tech}` : "",
          agentId,
          action: flags.action ?? "",
          outcome: flags.outcome ?? "",
          ...(since !== undefined && { since: timestampFromMs(since) }),
          ...(until !== undefined && { until: timestampFromMs(until) }),
          pageSize: Math.min(limit - events.length, 1000),
          pageToken,
        });
        events.push(...page.events);
        pageToken = page.nextPageToken;
      } while (pageToken && events.length < limit);
      printListing(outputFormat(flags), events, {
        columns: [
          { header: "TIME", cell: (e) => formatTime(e.time) },
          { header: "ACTOR", cell: (e) => e.actor },
          { header: "ACTION", cell: (e) => e.action },
          { header: "OUTCOME", cell: (e) => e.outcome },
          { header: "AGENT", cell: (e) => e.agentId || "-" },
          { header: "SESSION", cell: (e) => e.sessionId || "-", wide: true },
          { header: "REASON", cell: (e) => e.reason || "-", wide: true },
        ],
        record: (e) => ({
          id: Number(e.id),
          time: e.time ? timestampDate(e.time).toISOString() : null,
          actor: e.actor,
          action: e.action,
          outcome: e.outcome,
          agentId: e.agentId || null,
          sessionId: e.sessionId || null,
          reason: e.reason || null,
        }),
      });
    });
}
