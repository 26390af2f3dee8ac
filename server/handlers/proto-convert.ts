import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { Heartbeat } from "../../gen/rmm/v1/agent_service_pb.js";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  AgentSchema,
  RecordingSchema,
  type Recording,
  type AgentHealthSchema,
  SessionState,
  TunnelSessionSchema,
  type Agent,
  type TunnelSession,
} from "../../gen/rmm/v1/tunnel_service_pb.js";
import { cutText } from "../../common/cut-text.js";
import { AGENT_INFO_LIMITS } from "../services/agent-info-check.js";
import type { AgentListing } from "../services/agent-directory.js";
import type { RecordingListing } from "../services/recording-library.js";
import { closeReasonEnum } from "../services/close-reason.js";
import { effectiveLabels, parseLabelsJson } from "../../common/labels.js";
import { parseCapabilities, type SessionRow, type SessionStateName } from "../store/index.js";

const STATE: Record<SessionStateName, SessionState> = {
  opening: SessionState.OPENING,
  active: SessionState.ACTIVE,
  closed: SessionState.CLOSED,
};

export function sessionMessage(row: SessionRow): TunnelSession {
  return create(TunnelSessionSchema, {
    id: row.id,
    agentId: row.agent_id,
    technician: row.technician,
    state: STATE[row.state],
    closeReason: closeReasonEnum(row.close_reason),
    closeMessage: row.close_message ?? "",
    openTime: timestampFromMs(row.opened_at),
    readyTime: row.ready_at === null ? undefined : timestampFromMs(row.ready_at),
    closeTime: row.closed_at === null ? undefined : timestampFromMs(row.closed_at),
    exclusive: row.exclusive === 1,
    ephemeral: row.ephemeral === 1,
    nodeId: row.node_id ?? "",
  });
}

export function agentMessage({ row, connection, nodeId, held, liveSessionId, holders }: AgentListing): Agent {
  // A live stream (here, or on the node that holds it) knows better than the batched column when the agent was last heard.
  const live = connection ?? held;
  const lastSeen = live?.lastMessageAt ?? row.last_seen_at;
  return create(AgentSchema, {
    id: row.id,
    // Rows stored before every hello was checked may hold more than the limits allow.
    hostname: cutText(row.hostname, AGENT_INFO_LIMITS.hostname),
    os: cutText(row.os, AGENT_INFO_LIMITS.os),
    agentVersion: cutText(row.agent_version, AGENT_INFO_LIMITS.agentVersion),
    capabilities: parseCapabilities(row.capabilities).slice(0, AGENT_INFO_LIMITS.capabilities),
    online: connection !== undefined || nodeId !== undefined,
    nodeId: nodeId ?? "",
    lastSeenTime: lastSeen === null ? undefined : timestampFromMs(lastSeen),
    enrollTime: timestampFromMs(row.enrolled_at),
    activeSessionId: liveSessionId ?? "",
    revoked: row.revoked_at !== null,
    sessionHolders: holders.map((h) => ({ ...h, state: STATE[h.state] })),
    labels: effectiveLabels(parseLabelsJson(row.reported_labels), parseLabelsJson(row.server_labels)),
    reportedLabels: parseLabelsJson(row.reported_labels),
    serverLabels: parseLabelsJson(row.server_labels),
    ...(live?.health && { health: healthMessage(live.health, live.healthAt) }),
    homeDirectory: live?.homeDirectory ?? "",
  });
}

function healthMessage(beat: Heartbeat, at: number | undefined): MessageInitShape<typeof AgentHealthSchema> {
  return {
    uptimeSeconds: beat.uptimeSeconds,
    loadAverage: beat.loadAverage,
    memoryTotalBytes: beat.memoryTotalBytes,
    memoryFreeBytes: beat.memoryFreeBytes,
    diskTotalBytes: beat.diskTotalBytes,
    diskFreeBytes: beat.diskFreeBytes,
    ...(at !== undefined && { reportTime: timestampFromMs(at) }),
  };
}

export function recordingMessage({ row, sizeBytes }: RecordingListing): Recording {
  let shell = "";
  try {
    const argv = JSON.parse(row.argv) as unknown;
    if (Array.isArray(argv) && typeof argv[0] === "string") shell = argv[0];
  } catch {
    // A row this server wrote always holds a JSON array; anything else shows as no shell rather than failing the page.
  }
  return create(RecordingSchema, {
    id: BigInt(row.id),
    sessionId: row.session_id,
    agentId: row.agent_id,
    technician: row.technician,
    channelId: row.channel_id ?? 0,
    shell,
    startTime: timestampFromMs(row.started_at),
    endTime: row.ended_at === null ? undefined : timestampFromMs(row.ended_at),
    outcome: row.outcome,
    sizeBytes: BigInt(sizeBytes),
  });
}
