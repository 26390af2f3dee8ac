import type { ServiceImpl } from "@connectrpc/connect";
import type { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import type { AgentDirectory } from "../services/agent-directory.js";
import type { AgentRecords } from "../services/agent-records.js";
import type { AuditTrail } from "../services/audit-trail.js";
import type { SessionHistory } from "../services/session-history.js";
import type { ChannelRelay } from "../services/channel-relay.js";
import { serveChannel } from "./channel-stream.js";
import type { CommandSupervisor } from "../services/command-supervisor.js";
import { serveExec } from "./exec-handler.js";
import { fileTransferHandler, type FileTransferDeps } from "./file-transfer-handler.js";
import type { SessionService } from "../services/session-service.js";
import { agentMessage, sessionMessage } from "./proto-convert.js";
import { technicianOf } from "./technician-of.js";

export function tunnelServiceHandler(deps: {
  sessions: SessionService;
  directory: AgentDirectory;
  records: AgentRecords;
  auditTrail: AuditTrail;
  sessionHistory: SessionHistory;
  relay: ChannelRelay;
  supervisor: CommandSupervisor;
  files: Omit<FileTransferDeps, "relay">;
}): ServiceImpl<typeof TunnelService> {
  const { sessions, directory, records, auditTrail, sessionHistory, relay, supervisor } = deps;
  const files = fileTransferHandler({ ...deps.files, relay });
  return {
    async listAgents(req, ctx) {
      technicianOf(ctx);
      const page = await directory.list({
        onlineOnly: req.onlineOnly,
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return { agents: page.agents.map(agentMessage), nextPageToken: page.nextPageToken };
    },
    async openTunnel(req, ctx) {
      return { session: sessionMessage(await sessions.open(technicianOf(ctx), req.agentId, ctx.signal)) };
    },
    async closeTunnel(req, ctx) {
      return { session: sessionMessage(await sessions.close(technicianOf(ctx), req.sessionId)) };
    },
    async getAgent(req, ctx) {
      technicianOf(ctx);
      return { agent: agentMessage(await records.get(req.agentId)) };
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
    async getTunnelStatus(req, ctx) {
      return { session: sessionMessage(await sessions.status(technicianOf(ctx), req.sessionId)) };
    },
    openChannel: (requests, ctx) => serveChannel(relay, supervisor, requests, ctx),
    exec: (req, ctx) => serveExec(supervisor, req, ctx),
    stat: (req, ctx) => files.stat(req, ctx),
    listDirectory: (req, ctx) => files.listDirectory(req, ctx),
    prepareUpload: (req, ctx) => files.prepareUpload(req, ctx),
    upload: (requests, ctx) => files.upload(requests, ctx),
    download: (req, ctx) => files.download(req, ctx),
  };
}
