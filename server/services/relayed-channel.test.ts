import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ChannelType, TunnelFrameSchema, type TunnelFrame } from "../../gen/rmm/v1/frame_pb.js";
import { OpenChannelRequestSchema, type OpenChannelResponse } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { AgentConnection } from "./agent-connection.js";
import { MAX_COALESCED_DATA_BYTES, RelayedChannel } from "./relayed-channel.js";

const SESSION = "11111111-1111-4111-8111-111111111111";
const KiB = 1024;

/** A channel the agent accepted with `credit`, its agent connection's queue drained. */
type Payload = MessageInitShape<typeof TunnelFrameSchema>["payload"];

function acceptedChannel(credit: number): {
  channel: RelayedChannel;
  conn: AgentConnection;
  fromAgent: (payload: Payload) => void;
} {
  const conn = new AgentConnection(
    "agent-1",
    { hostname: "h", os: "linux", agentVersion: "1", capabilities: [], labels: {} },
    0,
  );
  const channel = new RelayedChannel(
    { id: SESSION, agentId: "agent-1", technician: "alice", conn, lastActivityAt: 0 },
    1,
    4 * MAX_COALESCED_DATA_BYTES,
    () => undefined,
  );
  channel.open(
    { sessionId: SESSION, type: ChannelType.ECHO, initialCredit: 0, params: { case: undefined } },
    4 * MAX_COALESCED_DATA_BYTES,
    10_000,
  );
  let sequence = 0n;
  const fromAgent = (payload: Payload) =>
    channel.fromAgent(create(TunnelFrameSchema, { sessionId: SESSION, channelId: 1, sequence: ++sequence, payload }));
  fromAgent({ case: "credit", value: { bytes: credit } });
  void takeAll(conn.outbound);
  void takeAll(channel.toTechnician);
  return { channel, conn, fromAgent };
}

/** What the queue holds now, taken as its consumer would. */
async function takeAll<T>(queue: { size: number; [Symbol.asyncIterator](): AsyncIterator<T> }): Promise<T[]> {
  const it = queue[Symbol.asyncIterator]();
  const taken: Promise<IteratorResult<T>>[] = [];
  while (queue.size > 0) taken.push(it.next());
  return (await Promise.all(taken)).map((r) => r.value as T);
}

const frameOf = (msg: { kind: { case: string | undefined; value?: unknown } }): TunnelFrame => {
  if (msg.kind.case !== "frame") throw new Error(`expected a frame, got ${msg.kind.case}`);
  return msg.kind.value as TunnelFrame;
};

const data = (bytes: number, fill: number) =>
  create(OpenChannelRequestSchema, { kind: { case: "data", value: { data: new Uint8Array(bytes).fill(fill) } } });

describe("a relayed channel", () => {
  it("merges technician data still queued for the agent into one frame, bytes in order, up to the cap", async () => {
    const { channel, conn } = acceptedChannel(4 * MAX_COALESCED_DATA_BYTES);
    const chunk = 64 * KiB;
    const chunks = MAX_COALESCED_DATA_BYTES / chunk + 1;
    for (let i = 0; i < chunks; i++) channel.fromTechnician(data(chunk, i));
    const [first, second, ...rest] = (await takeAll(conn.outbound)).map(frameOf);
    expect(rest).toEqual([]);
    expect(first!.sequence).toBe(2n); // 1 was the open
    expect(first!.payload.case === "data" && first!.payload.value.data.length).toBe(MAX_COALESCED_DATA_BYTES);
    expect(first!.payload.case === "data" && [...new Set(first!.payload.value.data)]).toEqual([0, 1, 2, 3]);
    expect(second!.sequence).toBe(3n);
    expect(second!.payload.case === "data" && second!.payload.value.data.length).toBe(chunk);
  });

  it("never merges into data the agent stream has already taken", async () => {
    const { channel, conn } = acceptedChannel(1024);
    channel.fromTechnician(data(10, 1));
    await takeAll(conn.outbound);
    channel.fromTechnician(data(10, 2));
    const frame = frameOf(conn.outbound.last()!);
    expect(frame.sequence).toBe(3n);
    expect(frame.payload.case === "data" && [...frame.payload.value.data]).toEqual(new Array(10).fill(2));
  });

  it("merges agent data still queued for the technician", () => {
    const { channel, fromAgent } = acceptedChannel(1024);
    fromAgent({ case: "data", value: { data: new Uint8Array([1, 2]) } });
    fromAgent({ case: "data", value: { data: new Uint8Array([3]) } });
    expect(channel.toTechnician.size).toBe(1);
    const queued = channel.toTechnician.last() as OpenChannelResponse;
    expect(queued.kind.case === "data" && [...queued.kind.value.data]).toEqual([1, 2, 3]);
  });
});
