import type { ConnectRequest, ConnectResponse, EnrollRequest, EnrollResponse } from "../gen/rmm/v1/agent_service_pb.js";

/** One open agent stream. */
export interface AgentStream {
  /**
   * Queues `msg` for the server, encoded before this returns: the caller may
   * reuse any buffer the message carries (a download's read buffer) as soon
   * as send returns.
   */
  send(msg: ConnectRequest): void;
  /** The server's messages; ends when the stream ends, throws with the status it ended with. */
  readonly messages: AsyncIterable<ConnectResponse>;
  /** Ends the stream from our side. */
  close(): void;
}

/**
 * How the agent reaches the server. The real one is gRPC over HTTP/2
 * (grpc-transport.ts); tests can drive the agent with an in-memory one.
 */
export interface AgentTransport {
  enroll(req: EnrollRequest): Promise<EnrollResponse>;
  connect(credential: string): AgentStream;
  close(): void;
}
