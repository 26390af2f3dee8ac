import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type DescMethodStreaming,
  type MessageInitShape,
} from "@bufbuild/protobuf";
import { Code, ConnectError, type StreamResponse } from "@connectrpc/connect";
import { AsyncQueue } from "../../../common/async-queue.js";
import {
  STREAM_BRIDGE_PATH_PREFIX,
  type BridgeClientText,
  type BridgeEnd,
} from "../../../common/stream-bridge-protocol.js";

/**
 * Bytes this tab lets queue on the socket before it waits. Defaults to 256 KiB:
 * an upload then moves at the server's pace and its progress bar tells the truth.
 */
export const BRIDGE_SEND_HIGH_WATER_BYTES = 256 * 1024;
/** How often a sender blocked on the socket's buffer looks again. Browsers have no drain event. Defaults to 4 ms. */
const DRAIN_POLL_MS = 4;

/** One client-streaming or bidi call over the WebSocket bridge (common/stream-bridge-protocol.ts). */
export async function bridgeStream<I extends DescMessage, O extends DescMessage>(
  method: DescMethodStreaming<I, O>,
  signal: AbortSignal | undefined,
  headers: Headers,
  input: AsyncIterable<MessageInitShape<I>>,
): Promise<StreamResponse<I, O>> {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(
    `${scheme}//${location.host}${STREAM_BRIDGE_PATH_PREFIX}${method.parent.typeName}/${method.name}`,
  );
  ws.binaryType = "arraybuffer";
  const output = new AsyncQueue<MessageInitShape<O> & object>();
  let ended = false;
  const finish = (err?: ConnectError) => {
    ended = true;
    output.end(err);
  };
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new ConnectError("could not reach the server's stream bridge", Code.Unavailable));
  });
  ws.onerror = null;
  ws.onmessage = (event: MessageEvent<ArrayBuffer | string>) => {
    if (typeof event.data !== "string") {
      output.push(fromBinary(method.output, new Uint8Array(event.data)) as MessageInitShape<O> & object);
      return;
    }
    const end = JSON.parse(event.data) as BridgeEnd;
    finish(end.code === 0 ? undefined : new ConnectError(end.message, end.code as Code));
  };
  ws.onclose = () => {
    if (!ended) finish(new ConnectError("the connection to the server was lost", Code.Unavailable));
  };
  signal?.addEventListener("abort", () => {
    if (!ended) finish(new ConnectError("cancelled", Code.Canceled));
    ws.close();
  });
  const headerRecord: Record<string, string> = {};
  headers.forEach((value, key) => (headerRecord[key] = value));
  sendText(ws, { type: "open", headers: headerRecord });
  void (async () => {
    for await (const message of input) {
      while (ws.bufferedAmount > BRIDGE_SEND_HIGH_WATER_BYTES && ws.readyState === WebSocket.OPEN)
        await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(toBinary(method.input, create(method.input, message)));
    }
    if (ws.readyState === WebSocket.OPEN) sendText(ws, { type: "half-close" });
  })().catch((err: unknown) => {
    finish(ConnectError.from(err));
    ws.close();
  });
  return {
    stream: true,
    service: method.parent,
    method,
    header: new Headers(),
    trailer: new Headers(),
    message: output as unknown as AsyncIterable<
      O extends DescMessage ? import("@bufbuild/protobuf").MessageShape<O> : never
    >,
  } as StreamResponse<I, O>;
}

function sendText(ws: WebSocket, message: BridgeClientText): void {
  ws.send(JSON.stringify(message));
}
