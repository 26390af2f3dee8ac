import { connect as netConnect } from "node:net";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import {
  FLOW_CONTROL_WINDOW_BYTES,
  KEEPALIVE_TIME_MS,
  KEEPALIVE_TIMEOUT_MS,
  MAX_MESSAGE_BYTES,
} from "../agent/grpc-transport.js";
import type { AgentStream, AgentTransport } from "../agent/transport.js";
import { AsyncQueue } from "../common/async-queue.js";
import { AgentService, type ConnectRequest, type EnrollRequest } from "../gen/rmm/v1/agent_service_pb.js";

/**
 * A simulated agent's transport whose connections leave from `localAddress`
 * (127.0.0.2, 127.0.0.3, ... on loopback), so a 10,000-agent fleet on one
 * machine is not held to the ephemeral ports of one source address towards
 * the server's one port. grpc-js (1.14), which the real agent uses, has no
 * option to bind a local address (its subchannel calls `net.connect` with the
 * resolved address only), so this is gRPC on node:http2 through connect-node,
 * the client the bench's "bare connect-node" baselines use. As the real
 * agent's transport does, each call has a connection of its own, closed when
 * the call ends. Cleartext only: the bench server listens on http://.
 */
/**
 * Source ports the simulated agents bind, in turn, per source address. Binding
 * an address with port 0 makes Linux search for a free port without knowing
 * the destination, through every port bound there: a third of a generator's
 * CPU at 5,000 agents (node has no IP_BIND_ADDRESS_NO_PORT). One generator
 * owns its source address, so it hands the ports out itself; a port still in
 * TIME_WAIT after a full turn fails that one connect, and its agent retries.
 */
const SOURCE_PORT_FIRST = 10_000;
const SOURCE_PORT_LAST = 65_000;
const nextSourcePort = new Map<string, number>();

function sourcePort(localAddress: string): number {
  const port = nextSourcePort.get(localAddress) ?? SOURCE_PORT_FIRST;
  nextSourcePort.set(localAddress, port >= SOURCE_PORT_LAST ? SOURCE_PORT_FIRST : port + 1);
  return port;
}

export function boundAgentTransport(serverUrl: string, localAddress: string): AgentTransport {
  const url = new URL(serverUrl);
  if (url.protocol !== "http:") throw new Error(`bound agent transport: "${serverUrl}" must be an http:// URL`);
  const port = Number(url.port || "80");
  const open = new Set<Http2SessionManager>();
  const newClient = () => {
    // PINGs, window and limits as the agent's own transport sets them.
    const sessions = new Http2SessionManager(
      url,
      { pingIntervalMs: KEEPALIVE_TIME_MS, pingTimeoutMs: KEEPALIVE_TIMEOUT_MS },
      {
        createConnection: () =>
          netConnect({ host: url.hostname, port, localAddress, localPort: sourcePort(localAddress) }).setNoDelay(true),
        settings: { initialWindowSize: FLOW_CONTROL_WINDOW_BYTES },
      },
    );
    open.add(sessions);
    const client = createClient(
      AgentService,
      createGrpcTransport({
        baseUrl: serverUrl,
        sessionManager: sessions,
        readMaxBytes: MAX_MESSAGE_BYTES,
        writeMaxBytes: MAX_MESSAGE_BYTES,
      }),
    );
    const done = () => {
      open.delete(sessions);
      sessions.abort();
    };
    return { client, done };
  };

  return {
    enroll: async (req: EnrollRequest) => {
      const { client, done } = newClient();
      try {
        return await client.enroll(req);
      } finally {
        done();
      }
    },
    connect(credential: string): AgentStream {
      const { client, done } = newClient();
      const outbound = new AsyncQueue<ConnectRequest>();
      const cancel = new AbortController();
      const responses = client.connect(outbound, {
        headers: { authorization: `Bearer ${credential}` },
        signal: cancel.signal,
      });
      return {
        send: (msg) => {
          outbound.push(msg);
        },
        messages: (async function* () {
          try {
            yield* responses;
          } finally {
            outbound.end();
            done();
          }
        })(),
        close: () => cancel.abort(),
      };
    },
    close: () => {
      for (const sessions of open) sessions.abort();
      open.clear();
    },
  };
}
