import type { ServiceImpl } from "@connectrpc/connect";
import type { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import type { AgentDirectory } from "../services/agent-directory.js";
import type { AgentLabels } from "../services/agent-labels.js";
import type { AgentRecords } from "../services/agent-records.js";
import type { AuditTrail } from "../services/audit-trail.js";
import type { SessionHistory } from "../services/session-history.js";
import { readRecording, type RecordingLibrary } from "../services/recording-library.js";
import type { ChannelRelay } from "../services/channel-relay.js";
import { serveChannel } from "./channel-stream.js";
import type { CommandSupervisor } from "../services/command-supervisor.js";
import type { ForwardSupervisor } from "../services/forward-supervisor.js";
import { serveExec } from "./exec-handler.js";
import { oneShotSession } from "./one-shot-session.js";
import { fileTransferHandler, type FileTransferDeps } from "./file-transfer-handler.js";
import type { SessionService } from "../services/session-service.js";
import { agentMessage, recordingMessage, sessionMessage } from "./proto-convert.js";
import { technicianOf } from "./technician-of.js";

export function tunnelServiceHandler(deps: {
  sessions: SessionService;
  directory: AgentDirectory;
  labels: AgentLabels;
  records: AgentRecords;
  auditTrail: AuditTrail;
  sessionHistory: SessionHistory;
  recordings: RecordingLibrary;
  relay: ChannelRelay;
  supervisor: CommandSupervisor;
  forwards: ForwardSupervisor;
  files: Omit<FileTransferDeps, "relay">;
}): ServiceImpl<typeof TunnelService> {
  const { sessions, directory, records, auditTrail, sessionHistory, recordings, relay, supervisor, forwards } = deps;
  const files = fileTransferHandler({ ...deps.files, relay });
  return {
    async listAgents(req, ctx) {
      const page = await directory.list({
        viewer: technicianOf(ctx),
        onlineOnly: req.onlineOnly,
        pageSize: req.pageSize,
        pageToken: req.pageToken,
        selector: req.selector,
        hostname: req.hostname,
      });
      return { agents: page.agents.map(agentMessage), nextPageToken: page.nextPageToken };
    },
    async openTunnel(req, ctx) {
      const { session, reused } = await sessions.open(
        technicianOf(ctx),
        { agentId: req.agentId, exclusive: req.exclusive, ephemeral: req.ephemeral },
        ctx.signal,
      );
      return { session: sessionMessage(session), reused };
    },
    async closeTunnel(req, ctx) {
      return { session: sessionMessage(await sessions.close(technicianOf(ctx), req.sessionId)) };
    },
    async getAgent(req, ctx) {
      return { agent: agentMessage(await records.get(technicianOf(ctx), req.agentId)) };
    },
    async deleteAgent(req, ctx) {
      await records.delete(technicianOf(ctx), req.agentId);
      return {};
    },
    async listAuditEvents(req, ctx) {
      return auditTrail.list(technicianOf(ctx), req);
    },
    async listSessions(req, ctx) {
      const { rows, nextPageToken } = await sessionHistory.list(technicianOf(ctx), req);
      return { sessions: rows.map(sessionMessage), nextPageToken };
    },
    async listRecordings(req, ctx) {
      const { listings, nextPageToken } = await recordings.list(technicianOf(ctx), req);
      return { recordings: listings.map(recordingMessage), nextPageToken };
    },
    async *downloadRecording(req, ctx) {
      const { listing, file } = await recordings.download(technicianOf(ctx), req.recordingId);
      try {
        yield { kind: { case: "recording", value: recordingMessage(listing) } };
        for await (const chunk of readRecording(file, listing.sizeBytes))
          yield { kind: { case: "chunk", value: chunk } };
      } finally {
        await file.close();
      }
    },
    async getTunnelStatus(req, ctx) {
      return { session: sessionMessage(await sessions.status(technicianOf(ctx), req.sessionId)) };
    },
    openChannel: (requests, ctx) => serveChannel(sessions, relay, supervisor, forwards, requests, ctx),
    // A call that names its session goes straight to serveExec; a one-shot one first finds or opens it.
    exec: (req, ctx) =>
      req.agentId === ""
        ? serveExec(supervisor, req, ctx)
        : (async function* () {
            await oneShotSession(sessions, technicianOf(ctx), req, ctx.signal);
            yield* serveExec(supervisor, req, ctx);
          })(),
    stat: (req, ctx) => files.stat(req, ctx),
    listDirectory: (req, ctx) => files.listDirectory(req, ctx),
    prepareUpload: (req, ctx) => files.prepareUpload(req, ctx),
    makeDirectory: (req, ctx) => files.makeDirectory(req, ctx),
    upload: (requests, ctx) => files.upload(requests, ctx),
    download: (req, ctx) => files.download(req, ctx),
    async setAgentLabels(req, ctx) {
      const tech = technicianOf(ctx);
      const row = await deps.labels.set(tech, req.agentId, req.set, req.remove);
      const [listing] = await directory.listingsOf([row], tech);
      return { agent: agentMessage(listing!) };
    },
  };
}
