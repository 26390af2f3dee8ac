import { Code } from "@connectrpc/connect";
import { AsyncQueue } from "../../common/async-queue.js";
import type { ForwardTarget } from "../../common/forward-target.js";
import type { Logger } from "../../common/logger.js";
import type { OpenChannelRequest, OpenChannelResponse } from "../../gen/rmm/v1/tunnel_service_pb.js";
import type { ForwardAuditEntry, ForwardAuditStore, ForwardOutcome } from "../store/index.js";
import type { RelayedChannel } from "./relayed-channel.js";

/** Longest message kept in the audit row; the column is varchar(1024). */
const MAX_MESSAGE_CHARS = 1_000;

/** Who the connection belongs to and what it reached, for its audit row. */
export interface ForwardRecord {
  technician: string;
  role: string;
  agentId: string;
  sessionId: string;
  target: ForwardTarget;
  policyRule: string;
  startedAt: number;
}

/**
 * Watches one forwarded TCP connection from the server's side: counts the
 * bytes each way and, once the channel has ended, appends its audit row with
 * how it ended. Every frame for the technician passes through `responses`, so
 * the tracker sees the end even when the technician has gone.
 */
export class ForwardTracker {
  /** What the technician's call yields; holds no more than the relayed channel did (the credit bounds both). */
  readonly responses = new AsyncQueue<OpenChannelResponse>();
  private bytesToTarget = 0;
  private bytesFromTarget = 0;
  private technicianClose: { code: number; message: string } | undefined;

  constructor(
    private readonly channel: RelayedChannel,
    private readonly store: ForwardAuditStore,
    private readonly log: Logger,
    private readonly record: ForwardRecord,
  ) {
    void this.drain();
  }

  fromTechnician(req: OpenChannelRequest): void {
    if (req.kind.case === "data") this.bytesToTarget += req.kind.value.data.length;
    else if (req.kind.case === "close" && !this.channel.isEnded)
      this.technicianClose = { code: req.kind.value.code, message: req.kind.value.message };
    this.channel.fromTechnician(req);
  }

  private async drain(): Promise<void> {
    let end = this.technicianClose;
    for await (const res of this.channel.toTechnician) {
      if (res.kind.case === "data") this.bytesFromTarget += res.kind.value.data.length;
      else if (res.kind.case === "close") end = { code: res.kind.value.code, message: res.kind.value.message };
      this.responses.push(res);
    }
    this.responses.end();
    end ??= this.technicianClose ?? { code: Code.Unknown, message: "the channel ended without a close" };
    const outcome: ForwardOutcome = end.code === 0 ? "completed" : end.code === Code.Canceled ? "cancelled" : "failed";
    await appendForwardAudit(this.store, this.log, this.record, {
      channel_id: this.channel.channelId,
      ended_at: Date.now(),
      outcome,
      bytes_to_target: this.bytesToTarget,
      bytes_from_target: this.bytesFromTarget,
      message: end.code === 0 ? end.message || null : `${Code[end.code] ?? end.code}: ${end.message}`,
    });
  }
}

/** Appends one connection's row; a failed write is logged with the whole entry instead of failing a connection that already happened. */
export async function appendForwardAudit(
  store: ForwardAuditStore,
  log: Logger,
  record: ForwardRecord,
  end: Pick<
    ForwardAuditEntry,
    "channel_id" | "ended_at" | "outcome" | "bytes_to_target" | "bytes_from_target" | "message"
  >,
): Promise<void> {
  const entry: ForwardAuditEntry = {
    technician: record.technician,
    role: record.role,
    agent_id: record.agentId,
    session_id: record.sessionId,
    host: record.target.host,
    port: record.target.port,
    started_at: record.startedAt,
    policy_rule: record.policyRule,
    ...end,
    message: end.message ? end.message.slice(0, MAX_MESSAGE_CHARS) : null,
  };
  try {
    await store.append(entry);
  } catch (err) {
    log.error({ err, forward: entry }, "forward audit write failed; entry kept in this log");
  }
}
