import { fromBinary, toBinary, type DescMessage, type DescMethod, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { ErrorCode, NatsError } from "nats";
import { FILE_WINDOW_BYTES } from "../../common/file-chunks.js";
import { FORWARD_WINDOW_BYTES as BULK_CHANNEL_WINDOW_BYTES } from "../../common/forward-target.js";
import { VIA_HEADER } from "../../common/via-header.js";
import { peerKey } from "../auth/peer.js";
import type { ClusterLink } from "./cluster-link.js";
import { callSubject, decodeJson, encodeJson, type CallAccept, type CallOpen } from "./call-envelope.js";
import { RemoteStream } from "./remote-stream.js";

/** How long the serving node has to accept a routed call. */
export const CALL_ACCEPT_TIMEOUT_MS = 5_000;

/**
 * Bytes of messages a routed call may have in flight over NATS each way. The
 * largest window any call it carries keeps (2 MiB for file transfers, 1 MiB
 * for tcp and echo channels): the hop between nodes adds round-trip time, and
 * a smaller window here would cap a transfer through two nodes below what
 * its own window allows (with 256 KiB here, a 1 MiB echo channel ran at a
 * quarter of its speed through one node).
 */
export const ROUTED_CALL_WINDOW_BYTES = Math.max(FILE_WINDOW_BYTES, BULK_CHANNEL_WINDOW_BYTES);

export interface CallForwarderOptions {
  nodeId: string;
  maxMessageBytes: number;
}

/**
 * The calling side of a routed call: the technician's call landed here, the
 * agent's stream is on `nodeId`. The call is carried whole (its serialized
 * messages, opaque here) to that node, which runs it through its own
 * handlers, auth and audit as if it had landed there.
 */
export class CallForwarder {
  private readonly live = new Set<RemoteStream>();

  constructor(
    private readonly link: ClusterLink,
    private readonly opts: CallForwarderOptions,
  ) {
    link.onDown(() => {
      for (const s of this.live)
        s.abandon({ code: Code.Unavailable, message: "the cluster link (NATS) went down during the call" });
    });
  }

  /** Streams currently forwarded (for shutdown and tests). */
  get size(): number {
    return this.live.size;
  }

  async *forward<I extends DescMessage, O extends DescMessage>(
    nodeId: string,
    method: DescMethod & { input: I; output: O },
    ctx: HandlerContext,
    input: AsyncIterable<MessageShape<I>>,
  ): AsyncGenerator<MessageShape<O>> {
    const nc = this.link.connection;
    if (!nc)
      throw new ConnectError(
        `the agent is served by node ${nodeId}, reachable only over the cluster link (NATS), which is ${this.link.state}; retry once it is back`,
        Code.Unavailable,
      );
    const stream = new RemoteStream(nc, {
      windowBytes: ROUTED_CALL_WINDOW_BYTES,
      maxMessageBytes: this.opts.maxMessageBytes,
      peerName: `node ${nodeId}`,
    });
    this.live.add(stream);
    stream.onEnd(() => this.live.delete(stream));
    const headers: Record<string, string> = {};
    for (const name of ["authorization", VIA_HEADER]) {
      const value = ctx.requestHeader.get(name);
      if (value !== null) headers[name] = value;
    }
    const open: CallOpen = {
      service: method.parent.typeName,
      method: method.name,
      headers,
      timeoutMs: ctx.timeoutMs() ?? 0,
      inbox: stream.inbox,
      windowBytes: ROUTED_CALL_WINDOW_BYTES,
      from: this.opts.nodeId,
      peer: ctx.values.get(peerKey),
    };
    let accept: CallAccept;
    try {
      const reply = await nc.request(callSubject(nodeId), encodeJson(open), { timeout: CALL_ACCEPT_TIMEOUT_MS });
      accept = decodeJson<CallAccept>(reply.data, "call accept");
    } catch (err) {
      const reason =
        err instanceof NatsError && err.code === ErrorCode.NoResponders
          ? `node ${nodeId}, which holds the agent, is not on the cluster link (stopped or cut off); retry shortly: its agents reconnect to a live node`
          : err instanceof NatsError && err.code === ErrorCode.Timeout
            ? `node ${nodeId}, which holds the agent, did not accept the call within ${CALL_ACCEPT_TIMEOUT_MS} ms`
            : `could not reach node ${nodeId} over the cluster link: ${err instanceof Error ? err.message : String(err)}`;
      stream.abandon({ code: Code.Unavailable, message: reason });
      throw err instanceof ConnectError ? err : new ConnectError(reason, Code.Unavailable);
    }
    if ("code" in accept) {
      stream.abandon({ code: accept.code, message: accept.message });
      throw new ConnectError(accept.message, accept.code as Code);
    }
    stream.attach(accept.inbox, accept.windowBytes);
    const onAbort = () => stream.end({ code: Code.Canceled, message: "the caller cancelled the call" });
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    void (async () => {
      try {
        for await (const m of input) await stream.write(toBinary(method.input, m));
        stream.halfClose();
      } catch (err) {
        // The stream's own end is already known to both sides; anything else is the caller's input failing.
        if (!stream.ended) {
          const e = ConnectError.from(err);
          stream.end({ code: e.code, message: e.rawMessage });
        }
      }
    })();
    try {
      for await (const bytes of stream.messages()) yield fromBinary(method.output, bytes);
    } finally {
      ctx.signal.removeEventListener("abort", onAbort);
      stream.end({ code: Code.Canceled, message: "the caller stopped reading" });
    }
  }
}
