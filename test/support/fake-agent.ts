import { create } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { AsyncQueue } from "../../common/async-queue.js";
import {
  AgentService,
  ConnectRequestSchema,
  type ConnectRequest,
  type ConnectResponse,
} from "../../gen/rmm/v1/agent_service_pb.js";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";

type ResponseCase = NonNullable<ConnectResponse["kind"]["case"]>;
type ResponseValue<K extends ResponseCase> = Extract<ConnectResponse["kind"], { case: K }>["value"];

export type RequestKind = NonNullable<MessageInitShape<typeof ConnectRequestSchema>["kind"]>;

/** How the fake agent answers tunnel opens. */
export type OpenBehaviour = "ready" | "silent" | { error: { code: number; message: string } };

/**
 * A scripted agent speaking the real protocol over the real transport: enough
 * to drive the server until the real agent lands, and to send what a real
 * agent never would.
 */
export class FakeAgent {
  readonly received: ConnectResponse[] = [];
  private readonly outbound = new AsyncQueue<ConnectRequest>();
  private readonly abort = new AbortController();
  private waiters: Array<() => void> = [];
  /** Resolves with the error the stream ended with, or undefined for a clean end. */
  readonly ended: Promise<Error | undefined>;
  onOpen: OpenBehaviour = "ready";

  readonly agentId: string;

  private constructor(
    client: Client<typeof AgentService>,
    /** What enrollment gave this agent, to reconnect with. */
    readonly identity: { agentId: string; credential: string },
    opts: { hello: boolean; helloAgentId?: string },
  ) {
    const { agentId, credential } = identity;
    this.agentId = agentId;
    if (opts.hello) {
      this.send({
        case: "hello",
        value: {
          agentId: opts.helloAgentId ?? agentId,
          info: {
            hostname: `host-${agentId.slice(0, 8)}`,
            os: "linux x64",
            agentVersion: "test",
            capabilities: [ChannelType.ECHO],
          },
        },
      });
    }
    const responses = client.connect(this.outbound, {
      headers: { authorization: `Bearer ${credential}` },
      signal: this.abort.signal,
    });
    this.ended = (async () => {
      try {
        for await (const msg of responses) {
          this.received.push(msg);
          this.react(msg);
          for (const wake of this.waiters.splice(0)) wake();
        }
        return undefined;
      } catch (err) {
        return err instanceof Error ? err : new Error(String(err));
      } finally {
        this.outbound.end();
        for (const wake of this.waiters.splice(0)) wake();
      }
    })();
  }

  static async enroll(
    client: Client<typeof AgentService>,
    enrollmentToken: string,
    hostname = "test-host",
  ): Promise<{ agentId: string; credential: string }> {
    const res = await client.enroll({
      enrollmentToken,
      info: { hostname, os: "linux x64", agentVersion: "test", capabilities: [ChannelType.ECHO] },
    });
    return { agentId: res.agentId, credential: res.credential };
  }

  /** Opens the stream and sends hello (unless told not to, to test what the server does then). */
  static connect(
    client: Client<typeof AgentService>,
    identity: { agentId: string; credential: string },
    opts: { hello?: boolean; helloAgentId?: string } = {},
  ): FakeAgent {
    return new FakeAgent(client, identity, {
      hello: opts.hello ?? true,
      ...(opts.helloAgentId ? { helloAgentId: opts.helloAgentId } : {}),
    });
  }

  send(kind: RequestKind): void {
    this.outbound.push(create(ConnectRequestSchema, { kind }));
  }

  /** Waits until a received message matches; fails if the stream ends first. */
  async waitFor<K extends ResponseCase>(
    kind: K,
    match: (msg: ResponseValue<K>) => boolean = () => true,
  ): Promise<ResponseValue<K>> {
    for (let seen = 0; ;) {
      for (; seen < this.received.length; seen++) {
        const k = this.received[seen]!.kind;
        if (k.case === kind && match(k.value as ResponseValue<K>)) return k.value as ResponseValue<K>;
      }
      if (this.outbound.ended) throw new Error(`stream ended before ${kind} arrived: ${String(await this.ended)}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Half-closes the request side: a clean goodbye. */
  hangUp(): void {
    this.outbound.end();
  }

  /** Drops the stream abruptly, as a killed process would. */
  kill(): void {
    this.abort.abort();
  }

  private react(msg: ConnectResponse): void {
    if (msg.kind.case !== "openTunnel") return;
    const sessionId = msg.kind.value.sessionId;
    if (this.onOpen === "ready") this.send({ case: "tunnelReady", value: { sessionId } });
    else if (this.onOpen !== "silent") this.send({ case: "tunnelError", value: { sessionId, ...this.onOpen.error } });
  }
}
