import type { DescMessage, DescMethod, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import type { CallForwarder } from "./call-forwarder.js";
import type { CallRouter } from "./call-router.js";

type Impl = ServiceImpl<typeof TunnelService>;
const M = TunnelService.method;

/**
 * TunnelService as a cluster node serves it: calls about an agent or session
 * whose stream another node holds are carried there whole; the rest (and
 * everything the database answers: listings, audit, history, labels) run
 * here. The local implementation is untouched: sessions, policy and audit
 * happen on the node that holds the agent, exactly as on a single server.
 */
export function routedTunnelService(local: Impl, router: CallRouter, forwarder: CallForwarder): Impl {
  const unary =
    <I extends DescMessage, O extends DescMessage>(
      method: DescMethod & { input: I; output: O },
      where: (req: MessageShape<I>) => Promise<string | undefined>,
      here: (req: MessageShape<I>, ctx: HandlerContext) => Promise<MessageInitShape<O>> | MessageInitShape<O>,
    ) =>
    async (req: MessageShape<I>, ctx: HandlerContext): Promise<MessageInitShape<O>> => {
      const node = await where(req);
      if (node === undefined) return here(req, ctx);
      for await (const res of forwarder.forward(node, method, ctx, once(req))) return res;
      throw new ConnectError(`node ${node} ended ${method.name} without a response`, Code.Internal);
    };
  const serverStream = <I extends DescMessage, O extends DescMessage>(
    method: DescMethod & { input: I; output: O },
    where: (req: MessageShape<I>) => Promise<string | undefined>,
    here: (req: MessageShape<I>, ctx: HandlerContext) => AsyncIterable<MessageInitShape<O>>,
  ) =>
    async function* (req: MessageShape<I>, ctx: HandlerContext): AsyncGenerator<MessageInitShape<O>> {
      const node = await where(req);
      if (node === undefined) yield* here(req, ctx);
      else yield* forwarder.forward(node, method, ctx, once(req));
    };
  /** Client and bidi streams are placed by their first message. */
  const clientStream = <I extends DescMessage>(where: (first: MessageShape<I>) => Promise<string | undefined>) => {
    return async (requests: AsyncIterable<MessageShape<I>>) => {
      const it = requests[Symbol.asyncIterator]();
      const first = await it.next();
      const node = first.done ? undefined : await where(first.value);
      return { node, requests: prepend(first, it) };
    };
  };
  const bySession = (id: string) => router.nodeForSession(id);
  const byAgent = (id: string) => router.nodeForAgent(id);
  // A one-shot channel or exec names its agent instead of a session (ChannelOpenParams.agent_id, ExecRequest.agent_id).
  const channelPlace = clientStream<typeof M.openChannel.input>((r) => {
    if (r.kind.case !== "open") return bySession("");
    const { sessionId, agentId } = r.kind.value;
    return sessionId === "" && agentId !== "" ? byAgent(agentId) : bySession(sessionId);
  });
  const uploadPlace = clientStream<typeof M.upload.input>((r) =>
    bySession(r.kind.case === "start" ? r.kind.value.sessionId : ""),
  );
  return {
    ...local,
    openTunnel: unary(M.openTunnel, (r) => byAgent(r.agentId), local.openTunnel),
    closeTunnel: unary(M.closeTunnel, (r) => bySession(r.sessionId), local.closeTunnel),
    getTunnelStatus: unary(M.getTunnelStatus, (r) => bySession(r.sessionId), local.getTunnelStatus),
    deleteAgent: unary(M.deleteAgent, (r) => byAgent(r.agentId), local.deleteAgent),
    stat: unary(M.stat, (r) => bySession(r.sessionId), local.stat),
    prepareUpload: unary(M.prepareUpload, (r) => bySession(r.sessionId), local.prepareUpload),
    makeDirectory: unary(M.makeDirectory, (r) => bySession(r.sessionId), local.makeDirectory),
    exec: serverStream(
      M.exec,
      (r) => (r.sessionId === "" && r.agentId !== "" ? byAgent(r.agentId) : bySession(r.sessionId)),
      local.exec,
    ),
    listDirectory: serverStream(M.listDirectory, (r) => bySession(r.sessionId), local.listDirectory),
    download: serverStream(M.download, (r) => bySession(r.sessionId), local.download),
    async *openChannel(requests, ctx) {
      const placed = await channelPlace(requests);
      if (placed.node === undefined) yield* local.openChannel(placed.requests, ctx);
      else yield* forwarder.forward(placed.node, M.openChannel, ctx, placed.requests);
    },
    async upload(requests, ctx) {
      const placed = await uploadPlace(requests);
      if (placed.node === undefined) return local.upload(placed.requests, ctx);
      for await (const res of forwarder.forward(placed.node, M.upload, ctx, placed.requests)) return res;
      throw new ConnectError(`node ${placed.node} ended Upload without a response`, Code.Internal);
    },
  };
}

async function* once<T>(value: T): AsyncGenerator<T> {
  yield value;
}

/** The stream again from its first message, which was read to place the call. */
async function* prepend<T>(first: IteratorResult<T>, rest: AsyncIterator<T>): AsyncGenerator<T> {
  if (first.done) return;
  yield first.value;
  for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
}
