import { fromBinary, toBinary, type DescMethodStreaming, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import { AsyncQueue } from "../../common/async-queue.js";
import {
  BRIDGE_OPEN_MAX_BYTES,
  STREAM_BRIDGE_PATH_PREFIX,
  type BridgeClientText,
  type BridgeEnd,
} from "../../common/stream-bridge-protocol.js";
import type { Logger } from "../../common/logger.js";
import type { UpgradeHandler } from "../listener.js";

/**
 * Response bytes queued on a browser's socket before the bridge stops reading
 * the call's responses. Defaults to 1 MiB: a slow tab then holds back the call,
 * whose own flow control (channel credit, HTTP/2 windows) pauses the agent.
 */
export const BRIDGE_SEND_HIGH_WATER_BYTES = 1 << 20;
/** Requests queued for the call before the bridge stops reading the socket. Defaults to 64 messages. */
export const BRIDGE_RECEIVE_HIGH_WATER_MESSAGES = 64;

export interface StreamBridgeOptions {
  services: DescService[];
  /** Runs calls through the server's own routes and interceptors (createRouterTransport). */
  transport: Transport;
  maxMessageBytes: number;
  log: Logger;
}

/** Serves the bridge described in common/stream-bridge-protocol.ts on HTTP/1.1 upgrades. */
export function streamBridge(opts: StreamBridgeOptions): UpgradeHandler {
  const methods = new Map<string, DescMethodStreaming>();
  for (const service of opts.services)
    for (const method of service.methods)
      if (method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming")
        methods.set(`${STREAM_BRIDGE_PATH_PREFIX}${service.typeName}/${method.name}`, method as DescMethodStreaming);
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxMessageBytes });
  return (req, socket, head) => {
    const path = (req.url ?? "").split("?")[0] ?? "";
    const method = methods.get(path);
    if (!method) {
      socket.end(
        `HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\n\r\nno streaming method at ${path.slice(0, 200)}\n`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => void bridgeCall(ws, method, opts));
  };
}

async function bridgeCall(ws: WebSocket, method: DescMethodStreaming, opts: StreamBridgeOptions): Promise<void> {
  const abort = new AbortController();
  const requests = new AsyncQueue<unknown>();
  let opened: ((headers: Record<string, string>) => void) | undefined;
  let notOpened: ((err: unknown) => void) | undefined;
  const headers = new Promise<Record<string, string>>((resolve, reject) => {
    opened = resolve;
    notOpened = reject;
  });
  const fail = (err: unknown) => {
    notOpened?.(err);
    requests.end(err);
    abort.abort(err);
  };
  ws.on("close", () => fail(new ConnectError("browser closed the call", Code.Canceled)));
  ws.on("error", (err) => fail(err));
  ws.on("message", (data: RawData, isBinary: boolean) => {
    try {
      const bytes = rawBytes(data);
      if (!isBinary) {
        if (bytes.length > BRIDGE_OPEN_MAX_BYTES)
          throw new ConnectError("bridge control message too large", Code.InvalidArgument);
        const text = JSON.parse(new TextDecoder().decode(bytes)) as BridgeClientText;
        if (text.type === "open" && opened) {
          opened(Object.fromEntries(Object.entries(text.headers).map(([k, v]) => [k.toLowerCase(), String(v)])));
          opened = notOpened = undefined;
        } else if (text.type === "half-close") requests.end();
        else throw new ConnectError(`unexpected bridge message ${JSON.stringify(text.type)}`, Code.InvalidArgument);
        return;
      }
      if (opened) throw new ConnectError("send the open message before any request", Code.InvalidArgument);
      requests.push(fromBinary(method.input, bytes));
      if (requests.size >= BRIDGE_RECEIVE_HIGH_WATER_MESSAGES) ws.pause();
    } catch (err) {
      end(
        ws,
        err instanceof SyntaxError ? new ConnectError("bridge control message is not JSON", Code.InvalidArgument) : err,
      );
      fail(err);
    }
  });

  try {
    const input = (async function* () {
      for await (const message of requests) {
        if (requests.size < BRIDGE_RECEIVE_HIGH_WATER_MESSAGES / 2) ws.resume();
        yield message as never;
      }
    })();
    const response = await opts.transport.stream(method, abort.signal, undefined, await headers, input);
    for await (const message of response.message) {
      const bytes = toBinary(method.output, message);
      if (ws.bufferedAmount > BRIDGE_SEND_HIGH_WATER_BYTES)
        await new Promise<void>((resolve, reject) => ws.send(bytes, (err) => (err ? reject(err) : resolve())));
      else ws.send(bytes);
    }
    end(ws, undefined);
  } catch (err) {
    if (!abort.signal.aborted) opts.log.debug({ err, method: method.name }, "bridged call ended with an error");
    end(ws, err);
  }
}

function end(ws: WebSocket, err: unknown): void {
  if (ws.readyState !== ws.OPEN) return;
  const e = err === undefined ? undefined : ConnectError.from(err);
  const last: BridgeEnd = { type: "end", code: e?.code ?? 0, message: e?.rawMessage.slice(0, 1000) ?? "" };
  ws.send(JSON.stringify(last), () => ws.close(1000));
}

function rawBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  return data instanceof ArrayBuffer
    ? new Uint8Array(data)
    : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
