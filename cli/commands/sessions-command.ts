import { timestampDate, timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Option, type Command } from "commander";
import { CloseReason, SessionState, type TunnelSession } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { cliContext } from "../cli-context.js";
import { usage } from "../cli-error.js";
import { formatTime } from "../output-format.js";
import { outputFormat, printListing, withOutputOption, type OutputFlags } from "../output-option.js";
import { agentIdOf, parseLimit, parseTimeBound } from "../history-flags.js";

interface SessionsFlags extends OutputFlags {
  since?: string;
  until?: string;
  agent?: string;
  tech?: string;
  state?: "opening" | "active" | "closed";
  limit: string;
}

const STATES = { opening: SessionState.OPENING, active: SessionState.ACTIVE, closed: SessionState.CLOSED } as const;
const iso = (ts: Timestamp | undefined) => (ts ? timestampDate(ts).toISOString() : null);
const lower = (name: string | undefined) => name?.toLowerCase() ?? null;

export function registerSessions(program: Command): void {
  withOutputOption(program.command("sessions"))
    .description("tunnel sessions, live and closed, newest first (yours; admins: all)")
    .option("--since <when>", "sessions opened since a duration ago (1h, 2d) or an ISO time")
    .option("--until <when>", "sessions opened before a duration ago or an ISO time")
    .option("--agent <agent>", "sessions to this agent (id, id prefix or hostname)")
    .option("--tech <subject>", "sessions of this technician (admins; yours by default)")
    .addOption(new Option("--state <state>", "one state").choices(Object.keys(STATES)))
    .option("--limit <n>", "at most this many sessions", "100")
    .addHelpText(
      "after",
      "\nExamples:\n  rmm sessions --since 1d\n  rmm sessions --agent web-01 --state closed -o wide",
    )
    .action(async (flags: SessionsFlags) => {
      const ctx = cliContext();
      const limit = usage(() => parseLimit(flags.limit));
      const since = flags.since === undefined ? undefined : usage(() => parseTimeBound(flags.since!, "--since"));
      const until = flags.until === undefined ? undefined : usage(() => parseTimeBound(flags.until!, "--until"));
      const agentId = flags.agent === undefined ? "" : await agentIdOf(ctx.client, flags.agent);
      const sessions: TunnelSession[] = [];
      let pageToken = "";
      do {
        const page = await ctx.client.listSessions({
          agentId,
          technician: flags.tech ?? "",
          state: flags.state ? STATES[flags.state] : SessionState.UNSPECIFIED,
          ...(since !== undefined && { since: timestampFromMs(since) }),
          ...(until !== undefined && { until: timestampFromMs(until) }),
          pageSize: Math.min(limit - sessions.length, 1000),
          pageToken,
        });
        sessions.push(...page.sessions);
        pageToken = page.nextPageToken;
      } while (pageToken && sessions.length < limit);
      printListing(outputFormat(flags), sessions, {
        columns: [
          { header: "ID", cell: (s) => s.id },
          { header: "AGENT", cell: (s) => s.agentId },
          { header: "TECHNICIAN", cell: (s) => s.technician },
          { header: "STATE", cell: (s) => lower(SessionState[s.state]) ?? "-" },
          { header: "OPENED", cell: (s) => formatTime(s.openTime) },
          { header: "CLOSED", cell: (s) => formatTime(s.closeTime), wide: true },
          {
            header: "REASON",
            cell: (s) => (s.closeReason ? (lower(CloseReason[s.closeReason]) ?? "-") : "-"),
            wide: true,
          },
        ],
        record: (s) => ({
          id: s.id,
          agentId: s.agentId,
          technician: s.technician,
          state: lower(SessionState[s.state]),
          closeReason: s.closeReason ? lower(CloseReason[s.closeReason]) : null,
          closeMessage: s.closeMessage || null,
          openTime: iso(s.openTime),
          readyTime: iso(s.readyTime),
          closeTime: iso(s.closeTime),
        }),
      });
    });
}
