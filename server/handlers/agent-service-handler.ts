import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { AgentService, ConnectRequest, ConnectResponse } from "../../gen/rmm/v1/agent_service_pb.js";
import { cutText } from "../../common/cut-text.js";
import { agentKey } from "../auth/claims.js";
import { peerKey } from "../auth/peer.js";
import type { AuthFailureAudit } from "../services/auth-failure-audit.js";
import type { AgentConnection } from "../services/agent-connection.js";
import type { AgentEnrollment } from "../services/agent-enrollment.js";
import type { AgentPresence } from "../services/agent-presence.js";

export interface AgentServiceHandlerDeps {
  enrollment: AgentEnrollment;
  presence: AgentPresence;
  /** How long a new stream may take to send hello. */
  helloTimeoutMs: number;
  authFailures: Pick<AuthFailureAudit, "record">;
}

export function agentServiceHandler(deps: AgentServiceHandlerDeps): ServiceImpl<typeof AgentService> {
  return {
    async enroll(req) {
      return deps.enrollment.enroll(req.enrollmentToken, req.info);
    },
    connect: (requests, ctx) => serveStream(deps, requests, ctx),
  };
}

/**
 * One agent stream: hello first, then inbound messages are handled as they
 * arrive while outbound messages are yielded from the connection's queue. The
 * two run independently so a slow agent read never blocks server sends.
 */
async function* serveStream(
  deps: AgentServiceHandlerDeps,
  requests: AsyncIterable<ConnectRequest>,
  ctx: HandlerContext,
): AsyncGenerator<ConnectResponse> {
  const agent = ctx.values.get(agentKey);
  if (agent === undefined) throw new ConnectError("not authenticated", Code.Unauthenticated);
  const agentId = agent.id;
  const inbound = requests[Symbol.asyncIterator]();
  const first = await withDeadline(inbound.next(), deps.helloTimeoutMs, ctx.signal);
  if (first.done) return;
  if (first.value.kind.case !== "hello") {
    throw new ConnectError(
      `the first message must be hello, got ${first.value.kind.case ?? "an empty message"}`,
      Code.InvalidArgument,
    );
  }
  const hello = first.value.kind.value;
  if (hello.agentId !== agentId) {
    const reason = `credential belongs to agent ${agentId}, but hello claims ${cutText(hello.agentId, 64) || "no id"}`;
    deps.authFailures.record({ kind: "agent", source: ctx.values.get(peerKey), reason, agentId });
    throw new ConnectError(reason, Code.PermissionDenied);
  }

  const conn = await deps.presence.connected(agent, hello.info, hello.heartbeatAcks);
  let disconnected: Promise<void> | undefined;
  const disconnect = (reason: string) => (disconnected ??= deps.presence.disconnected(conn, reason));
  // A dead agent can leave this generator suspended at a yield for good (its write waits on HTTP/2
  // flow control the agent will never grant), so losing the connection disconnects without it.
  const onAbort = () => {
    conn.end();
    void disconnect("connection lost");
  };
  ctx.signal.addEventListener("abort", onAbort);
  let endReason = "stream closed";
  void pumpInbound(deps.presence, inbound, conn).then((reason) => (endReason = reason));
  try {
    yield* conn.outbound;
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
    await disconnect(ctx.signal.aborted ? "connection lost" : endReason);
  }
}

async function pumpInbound(
  presence: AgentPresence,
  inbound: AsyncIterator<ConnectRequest>,
  conn: AgentConnection,
): Promise<string> {
  try {
    for (;;) {
      const next = await inbound.next();
      if (next.done) {
        conn.end();
        return "agent closed its stream";
      }
      presence.received(conn, next.value);
    }
  } catch (err) {
    const error = ConnectError.from(err);
    conn.end(error);
    return `${Code[error.code]}: ${error.rawMessage}`;
  }
}

function withDeadline<T>(promise: Promise<T>, ms: number, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new ConnectError(`no hello within ${ms} ms`, Code.DeadlineExceeded)), ms);
    const onAbort = () => reject(ConnectError.from(signal.reason ?? new Error("stream aborted")));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    });
  });
}
