import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { ConnectResponseSchema, type ConnectResponse, type Heartbeat } from "../../gen/rmm/v1/agent_service_pb.js";
import { AsyncQueue } from "../../common/async-queue.js";
import type { AgentInfoFields } from "../store/index.js";
import { WarningThrottle } from "./warning-throttle.js";

type ResponseKind = NonNullable<MessageInitShape<typeof ConnectResponseSchema>["kind"]>;

/** One live agent stream as the server sees it: what to send it and what it last said. */
export class AgentConnection {
  /** Messages for the agent, in order; the stream handler yields from it. */
  readonly outbound = new AsyncQueue<ConnectResponse>();
  /** Sessions opened on this stream; they end with it. */
  readonly sessions = new Set<string>();
  lastMessageAt: number;
  health: Heartbeat | undefined;
  /** When `health` arrived (epoch ms). */
  healthAt: number | undefined;
  /** The agent's hello asked for heartbeat_ack answers (AgentHello.heartbeat_acks). */
  heartbeatAcks = false;
  /** The agent user's home directory from hello (AgentInfo.home_directory); "" when not reported. */
  homeDirectory = "";
  /** Protocol faults so far (see ProtocolFaults). */
  faults = 0;
  #warnings: WarningThrottle | undefined;

  constructor(
    readonly agentId: string,
    readonly info: AgentInfoFields,
    readonly connectedAt: number,
    /** The agent said it runs job steps (AgentInfo.job_steps). */
    readonly runsJobSteps = false,
  ) {
    this.lastMessageAt = connectedAt;
  }

  /**
   * Warnings this stream causes are rate-limited, so a flood of bad frames is not a flood of log lines.
   * Made at the first: most streams never cause one, and each lives as long as its agent's connection.
   */
  get warnings(): WarningThrottle {
    return (this.#warnings ??= new WarningThrottle());
  }

  get ended(): boolean {
    return this.outbound.ended;
  }

  /** Queues a message for the agent; false if the stream has ended. */
  send(kind: ResponseKind): boolean {
    return this.outbound.push(create(ConnectResponseSchema, { kind }));
  }

  /** Ends the stream: cleanly, or with the error the agent will see as the RPC status. */
  end(error?: ConnectError): void {
    this.outbound.end(error);
  }
}
