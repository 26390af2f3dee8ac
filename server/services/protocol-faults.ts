import { Code, ConnectError } from "@connectrpc/connect";
import { cutText } from "../../common/cut-text.js";
import type { Logger } from "../../common/logger.js";
import type { AgentConnection } from "./agent-connection.js";
import { actorOf, type AuditLog } from "./audit-log.js";

/**
 * Protocol faults one agent stream may commit before it is ended (frames for
 * channels or sessions it does not hold, malformed fields). Defaults to 100:
 * a working agent racing a close commits a few; one that sent 100,000 got
 * 100,000 answers before there was a budget.
 */
export const MAX_PROTOCOL_FAULTS = 100;

export interface ProtocolFault {
  /** What was wrong, for the log and the stream's final status. */
  what: string;
  sessionId?: string | undefined;
  channelId?: number | undefined;
}

/** Counting, logging (rate-limited per stream) and ending agent streams for protocol faults. */
export class ProtocolFaults {
  constructor(
    private readonly audit: AuditLog,
    private readonly log: Logger,
    private readonly max = MAX_PROTOCOL_FAULTS,
  ) {}

  /**
   * Records one fault. Within the budget: true, and the caller answers as the
   * protocol says. Past it: the stream ends with ResourceExhausted, the end is
   * audited, and false (the caller sends nothing more).
   */
  report(conn: AgentConnection, fault: ProtocolFault): boolean {
    if (conn.ended) return false;
    conn.faults++;
    const suppressed = conn.warnings.admit();
    if (suppressed !== undefined)
      this.log.warn(
        {
          agentId: conn.agentId,
          sessionId: fault.sessionId === undefined ? undefined : cutText(fault.sessionId, 64),
          channelId: fault.channelId,
          faults: conn.faults,
          ...(suppressed > 0 && { suppressedWarnings: suppressed }),
        },
        `agent protocol fault: ${fault.what}`,
      );
    if (conn.faults <= this.max) return true;
    const reason = `${conn.faults} protocol faults on one stream (the last: ${fault.what}); stream ended`;
    conn.end(new ConnectError(cutText(reason), Code.ResourceExhausted));
    this.log.warn({ agentId: conn.agentId, faults: conn.faults }, "agent stream ended for protocol faults");
    void this.audit.recordBestEffort({
      actor: actorOf.agent(conn.agentId),
      action: "agent.protocol_faults",
      outcome: "refused",
      agentId: conn.agentId,
      reason,
    });
    return false;
  }
}
