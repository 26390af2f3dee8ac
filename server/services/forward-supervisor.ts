import { Code, ConnectError } from "@connectrpc/connect";
import { forwardTargetOf } from "../../common/forward-target.js";
import type { Logger } from "../../common/logger.js";
import type { Technician } from "../auth/claims.js";
import type { CommandPolicy } from "../policy/command-policy.js";
import type { ForwardAuditStore } from "../store/index.js";
import type { ChannelRelay } from "./channel-relay.js";
import type { SupervisedChannel } from "./command-supervisor.js";
import { appendForwardAudit, ForwardTracker, type ForwardRecord } from "./forward-tracker.js";
import type { ChannelRequest, RelayedChannel } from "./relayed-channel.js";
import type { SessionService } from "./session-service.js";

/**
 * The gate every tcp (port forwarding) channel passes: its target is checked,
 * the policy's `forward` rules for the technician's role decide (a refusal is
 * audited and never reaches the agent), and a tracker audits the connection
 * with its bytes each way once it ends.
 */
export class ForwardSupervisor {
  constructor(
    private readonly deps: {
      relay: ChannelRelay;
      sessions: SessionService;
      audit: ForwardAuditStore;
      policy: CommandPolicy;
      log: Logger;
    },
  ) {}

  async open(tech: Technician, request: ChannelRequest): Promise<SupervisedChannel> {
    const { relay, sessions, audit, policy, log } = this.deps;
    if (request.params.case !== "tcp")
      throw new ConnectError("tcp channels need tcp parameters (params.tcp: host, port)", Code.InvalidArgument);
    const target = forwardTargetOf(request.params.value);
    const decision = policy.checkForward(tech.role, target);
    const startedAt = Date.now();
    const recordOf = (agentId: string, sessionId: string): ForwardRecord => ({
      technician: tech.subject,
      role: tech.role,
      agentId,
      sessionId,
      target,
      policyRule: decision.rule,
      startedAt,
    });
    /** A connection that never got a channel: refused by policy, or a channel the relay could not open. */
    const auditUnopened = async (outcome: "refused" | "failed", message: string) => {
      // Ownership first (NotFound / PermissionDenied): the row names the session's agent.
      const session = await sessions.status(tech, request.sessionId);
      await appendForwardAudit(audit, log, recordOf(session.agent_id, session.id), {
        channel_id: null,
        ended_at: Date.now(),
        outcome,
        bytes_to_target: 0,
        bytes_from_target: 0,
        message,
      });
    };
    if (decision.type === "deny") {
      await auditUnopened("refused", decision.reason);
      log.warn(
        { technician: tech.subject, role: tech.role, sessionId: request.sessionId, target },
        "forward refused by policy",
      );
      throw new ConnectError(decision.reason, Code.PermissionDenied);
    }
    let channel: RelayedChannel;
    try {
      // The agent is sent the target as judged (the default host filled in).
      channel = await relay.open(tech, {
        ...request,
        params: { case: "tcp", value: { ...request.params.value, ...target } },
      });
    } catch (err) {
      const e = ConnectError.from(err);
      // A session that is not the technician's, or none at all, has nothing to audit the attempt against.
      await auditUnopened("failed", `${Code[e.code]}: ${e.rawMessage}`).catch((statusErr: unknown) =>
        log.debug(
          { err: statusErr, sessionId: request.sessionId },
          "forward attempt not audited: no such session of theirs",
        ),
      );
      throw e;
    }
    const record = recordOf(channel.session.agentId, channel.session.id);
    const tracker = new ForwardTracker(channel, audit, log, record);
    return { channel, responses: tracker.responses, fromTechnician: (req) => tracker.fromTechnician(req) };
  }
}
