import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { ChannelType } from "../gen/rmm/v1/frame_pb.js";
import type { Agent, AgentHealth } from "../gen/rmm/v1/tunnel_service_pb.js";
import { formatBytes, formatTime } from "./output-format.js";
import type { Column, Listing } from "./output-option.js";
import { uptimeText } from "../common/uptime-text.js";

const iso = (ts: Timestamp | undefined) => (ts ? timestampDate(ts).toISOString() : null);

function healthRecord(h: AgentHealth) {
  return {
    uptimeSeconds: Number(h.uptimeSeconds),
    loadAverage: h.loadAverage,
    memoryTotalBytes: Number(h.memoryTotalBytes),
    memoryFreeBytes: Number(h.memoryFreeBytes),
    diskTotalBytes: Number(h.diskTotalBytes),
    diskFreeBytes: Number(h.diskFreeBytes),
    reportTime: iso(h.reportTime),
  };
}

/** An agent as json and yaml print it: the fields of the proto, times as ISO strings. */
export function agentRecord(a: Agent) {
  return {
    id: a.id,
    hostname: a.hostname,
    os: a.os,
    agentVersion: a.agentVersion,
    capabilities: a.capabilities.map((c) => ChannelType[c]?.toLowerCase() ?? String(c)),
    online: a.online,
    lastSeen: iso(a.lastSeenTime),
    enrolled: iso(a.enrollTime),
    activeSessionId: a.activeSessionId || null,
    revoked: a.revoked,
    labels: a.labels,
    serverLabels: a.serverLabels,
    sessionHolders: a.sessionHolders.map((h) => ({
      technician: h.technician,
      sessionId: h.sessionId || null,
      exclusive: h.exclusive,
    })),
    health: a.health ? healthRecord(a.health) : null,
    homeDirectory: a.homeDirectory || null,
  };
}

/** Uptime as the two largest units: 3d4h, 5h12m, 42m, 9s. */
export function formatUptime(seconds: number): string {
  return uptimeText(seconds, "");
}

/** "used of total": 37% of 7.6 GiB. */
function usage(total: bigint, free: bigint): string {
  if (total === 0n) return "-";
  const used = Number(total - free) / Number(total);
  return `${Math.round(used * 100)}% of ${formatBytes(Number(total))}`;
}

const health = (a: Agent, show: (h: AgentHealth) => string) => (a.health ? show(a.health) : "-");

const AGENT_COLUMNS: Column<Agent>[] = [
  { header: "ID", cell: (a) => a.id },
  { header: "HOSTNAME", cell: (a) => a.hostname },
  { header: "OS", cell: (a) => a.os },
  { header: "ONLINE", cell: (a) => (a.revoked ? "revoked" : a.online ? "yes" : "no") },
  { header: "LAST SEEN", cell: (a) => formatTime(a.lastSeenTime) },
  { header: "SESSION", cell: (a) => a.activeSessionId || "-" },
  {
    header: "LABELS",
    cell: (a) =>
      Object.entries(a.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(",") || "-",
  },
  { header: "VERSION", cell: (a) => a.agentVersion, wide: true },
  { header: "UPTIME", cell: (a) => health(a, (h) => formatUptime(Number(h.uptimeSeconds))), wide: true },
  { header: "LOAD", cell: (a) => health(a, (h) => h.loadAverage.map((l) => l.toFixed(2)).join(" ")), wide: true },
  { header: "MEMORY", cell: (a) => health(a, (h) => usage(h.memoryTotalBytes, h.memoryFreeBytes)), wide: true },
  { header: "DISK", cell: (a) => health(a, (h) => usage(h.diskTotalBytes, h.diskFreeBytes)), wide: true },
];

export const AGENT_LISTING: Listing<Agent> = { columns: AGENT_COLUMNS, record: agentRecord };

/** `rmm agent show`: every field, one per line. */
export function describeAgent(a: Agent): string {
  const r = agentRecord(a);
  const lines = [
    `agent ${r.id}`,
    `  hostname      ${r.hostname}`,
    `  os            ${r.os}`,
    `  version       ${r.agentVersion}`,
    `  state         ${r.revoked ? "revoked" : r.online ? "online" : "offline"}`,
    `  last seen     ${r.lastSeen ?? "-"}`,
    `  enrolled      ${r.enrolled ?? "-"}`,
    `  session       ${r.activeSessionId ?? "-"}`,
    `  capabilities  ${r.capabilities.join(", ") || "-"}`,
    `  home          ${r.homeDirectory ?? "-"}`,
  ];
  if (a.health) {
    const h = a.health;
    lines.push(
      `  uptime        ${formatUptime(Number(h.uptimeSeconds))}`,
      `  load          ${h.loadAverage.map((l) => l.toFixed(2)).join(" ")}`,
      `  memory        ${usage(h.memoryTotalBytes, h.memoryFreeBytes)} used`,
      `  disk          ${usage(h.diskTotalBytes, h.diskFreeBytes)} used`,
      `  reported      ${r.health?.reportTime ?? "-"}`,
    );
  }
  return lines.join("\n") + "\n";
}
