import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { AsyncQueue } from "../common/async-queue.js";
import { DEFAULT_WINDOW_BYTES, ReceiveWindow, SendWindow } from "../common/credit-window.js";
import type { ExitStatus } from "../gen/rmm/v1/exec_pb.js";
import type { ChannelData, ChannelInfo, ChannelType } from "../gen/rmm/v1/frame_pb.js";
import {
  OpenChannelRequestSchema,
  type ChannelOpenParamsSchema,
  type OpenChannelRequest,
  type TunnelService,
} from "../gen/rmm/v1/tunnel_service_pb.js";

/** Largest data message a channel client sends. Defaults to 64 KiB: big enough for throughput, far under message limits. */
export const MAX_CHUNK_BYTES = 64 * 1024;

export interface ChannelEnd {
  /** gRPC status code; 0 for a clean close. */
  code: number;
  message: string;
  /** Exec and terminal channels: how the process ended. */
  exit?: ExitStatus;
}

export interface OpenChannelOptions {
  /** An active session you own; empty for a one-shot channel (agentId). */
  sessionId: string;
  /** A one-shot channel: the agent, the server finding or opening the session (ChannelOpenParams.agent_id). */
  agentId?: string;
  type: ChannelType;
  parameters?: Record<string, string>;
  /** Exec and terminal channels: what to run. */
  params?: MessageInitShape<typeof ChannelOpenParamsSchema>["params"];
  /** Structured messages from the agent (for example exec_started), in order with the data. */
  onInfo?: (info: ChannelInfo) => void;
  /** Receive window: bytes the agent may send before we consume them. Defaults to 256 KiB. */
  windowBytes?: number;
  signal?: AbortSignal;
}

type RequestKind = NonNullable<MessageInitShape<typeof OpenChannelRequestSchema>["kind"]>;

/**
 * A technician's end of one tunnel channel, with flow control done for you:
 * `write` waits for the agent's credit, and credit goes back to the agent as
 * you consume `data`. Neither side can buffer more than one window.
 */
export class ChannelClient {
  readonly channelId: number;
  /** Resolves when the channel ends, with the code and message it ended with. */
  readonly ended: Promise<ChannelEnd>;
  /** Whether the agent said it will send no more data (eof), as opposed to the channel closing. */
  get peerEnded(): boolean {
    return this.eofState.received;
  }
  private readonly sendWindow: SendWindow;

  private constructor(
    private readonly requests: AsyncQueue<OpenChannelRequest>,
    private readonly incoming: AsyncQueue<ChannelData>,
    private readonly receiveWindow: ReceiveWindow,
    channelId: number,
    sendWindow: SendWindow,
    ended: Promise<ChannelEnd>,
    private readonly signal: AbortSignal | undefined,
    private readonly eofState: { received: boolean },
  ) {
    this.channelId = channelId;
    this.sendWindow = sendWindow;
    this.ended = ended;
  }

  /** Opens the channel and resolves once the agent has accepted it. */
  static async open(client: Client<typeof TunnelService>, opts: OpenChannelOptions): Promise<ChannelClient> {
    const requests = new AsyncQueue<OpenChannelRequest>();
    const incoming = new AsyncQueue<ChannelData>();
    const windowBytes = opts.windowBytes ?? DEFAULT_WINDOW_BYTES;
    const receiveWindow = new ReceiveWindow(windowBytes);
    const sendWindow = new SendWindow(0);
    const push = (kind: RequestKind) => requests.push(create(OpenChannelRequestSchema, { kind }));
    push({
      case: "open",
      value: {
        sessionId: opts.sessionId,
        agentId: opts.agentId ?? "",
        type: opts.type,
        parameters: opts.parameters ?? {},
        initialCredit: windowBytes,
        params: opts.params ?? { case: undefined },
      },
    });

    const responses = client.openChannel(requests, opts.signal ? { signal: opts.signal } : {})[Symbol.asyncIterator]();
    const first = await responses.next();
    if (first.done) throw new ConnectError("channel call ended before the agent answered", Code.Unavailable);
    if (first.value.kind.case === "close")
      throw new ConnectError(first.value.kind.value.message, (first.value.kind.value.code || Code.Unknown) as Code);
    if (first.value.kind.case !== "opened")
      throw new ConnectError(`expected opened, got ${first.value.kind.case}`, Code.Internal);
    const channelId = first.value.kind.value.channelId;
    const eofState = { received: false };

    const ended = (async (): Promise<ChannelEnd> => {
      try {
        for (let next = await responses.next(); !next.done; next = await responses.next()) {
          const kind = next.value.kind;
          if (kind.case === "data") {
            receiveWindow.received(kind.value.data.length);
            incoming.push(kind.value);
          } else if (kind.case === "credit") {
            sendWindow.grant(kind.value.bytes);
          } else if (kind.case === "eof") {
            eofState.received = true;
            incoming.end();
          } else if (kind.case === "info") {
            opts.onInfo?.(kind.value);
          } else if (kind.case === "close") {
            return {
              code: kind.value.code,
              message: kind.value.message,
              ...(kind.value.exit && { exit: kind.value.exit }),
            };
          }
        }
        return { code: 0, message: "" };
      } catch (err) {
        const e = ConnectError.from(err);
        return { code: e.code, message: e.rawMessage };
      } finally {
        incoming.end();
        requests.end();
        sendWindow.cancel();
      }
    })();
    return new ChannelClient(requests, incoming, receiveWindow, channelId, sendWindow, ended, opts.signal, eofState);
  }

  /** Sends `data`, in chunks, as fast as the agent's credit allows. Throws if the channel ends first. */
  async write(data: Uint8Array): Promise<void> {
    for (let offset = 0; offset < data.length;) {
      await this.sendWindow.ready(this.signal);
      if (this.requests.ended || this.signal?.aborted)
        throw new ConnectError("channel closed while writing", Code.Aborted);
      const n = this.sendWindow.take(Math.min(MAX_CHUNK_BYTES, data.length - offset));
      this.requests.push(
        create(OpenChannelRequestSchema, {
          kind: { case: "data", value: { data: data.subarray(offset, offset + n) } },
        }),
      );
      offset += n;
    }
  }

  /** Data from the agent; consuming it returns credit. Ends when the agent sends eof or the channel ends. */
  async *data(): AsyncGenerator<Uint8Array> {
    for await (const chunk of this.chunks()) yield chunk.data;
  }

  /** Like data(), with each chunk's output stream (stdout or stderr on exec channels). */
  async *chunks(): AsyncGenerator<ChannelData> {
    for await (const chunk of this.incoming) {
      yield chunk;
      this.consumed(chunk.data.length);
    }
  }

  /** No more data from us (an exec's stdin is closed); the agent's data keeps coming. */
  endInput(): void {
    this.requests.push(create(OpenChannelRequestSchema, { kind: { case: "eof", value: {} } }));
  }

  /** Terminal channels: the local window changed size. */
  resize(columns: number, rows: number): void {
    this.requests.push(create(OpenChannelRequestSchema, { kind: { case: "resize", value: { columns, rows } } }));
  }

  /** Closes our side; `ended` resolves when the call finishes. */
  close(code = 0, message = ""): void {
    this.requests.push(create(OpenChannelRequestSchema, { kind: { case: "close", value: { code, message } } }));
    this.requests.end();
  }

  private consumed(bytes: number): void {
    const grant = this.receiveWindow.processed(bytes);
    if (grant > 0)
      this.requests.push(create(OpenChannelRequestSchema, { kind: { case: "credit", value: { bytes: grant } } }));
  }
}
