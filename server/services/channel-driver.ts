import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { AsyncQueue } from "../../common/async-queue.js";
import { DEFAULT_WINDOW_BYTES, ReceiveWindow, SendWindow } from "../../common/credit-window.js";
import type { ChannelInfo } from "../../gen/rmm/v1/frame_pb.js";
import { OpenChannelRequestSchema } from "../../gen/rmm/v1/tunnel_service_pb.js";
import type { Technician } from "../auth/claims.js";
import type { ChannelRelay } from "./channel-relay.js";
import { CHANNEL_OK, type ChannelRequest, type RelayedChannel } from "./relayed-channel.js";

/** What the agent sends on a driven channel, in order. */
export type DriverEvent = { type: "data"; data: Uint8Array } | { type: "info"; info: ChannelInfo } | { type: "eof" };

export interface ChannelDriverOptions {
  /** Bytes the agent may send before we consume them. Defaults to 256 KiB. */
  windowBytes?: number;
  /** Aborting ends the channel (the RPC behind it went away). */
  signal?: AbortSignal;
}

/**
 * The server's own end of a channel to an agent, for RPCs the server serves
 * itself (the file RPCs): it stands where a technician's OpenChannel call
 * would, through the same relay, so the same credit and session checks apply.
 * `events()` yields what the agent sends and throws a ConnectError if the
 * channel ends with an error; `write` waits for the agent's credit.
 */
export class ChannelDriver {
  private readonly events_ = new AsyncQueue<DriverEvent>();
  private readonly sendWindow = new SendWindow(0);
  private readonly receiveWindow: ReceiveWindow;
  private endError: ConnectError | undefined;
  private finished = false;

  private constructor(
    private readonly relay: ChannelRelay,
    private readonly tech: Technician,
    private readonly channel: RelayedChannel,
    windowBytes: number,
  ) {
    this.receiveWindow = new ReceiveWindow(windowBytes);
  }

  /** Opens the channel and resolves once the agent accepted it; a refusal throws the agent's error. */
  static async open(
    relay: ChannelRelay,
    tech: Technician,
    request: Omit<ChannelRequest, "initialCredit">,
    opts: ChannelDriverOptions = {},
  ): Promise<ChannelDriver> {
    const windowBytes = opts.windowBytes ?? DEFAULT_WINDOW_BYTES;
    const channel = await relay.open(tech, { ...request, initialCredit: windowBytes });
    const driver = new ChannelDriver(relay, tech, channel, windowBytes);
    const onAbort = () => driver.close(Code.Canceled, "the call was cancelled");
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    const opened = driver.pump(() => opts.signal?.removeEventListener("abort", onAbort));
    if (opts.signal?.aborted) onAbort();
    await opened;
    return driver;
  }

  /** The session the channel runs in (for audit: its agent). */
  get session(): RelayedChannel["session"] {
    return this.channel.session;
  }

  /** What the agent sends, until the channel closes; a close with an error code is thrown as that ConnectError. */
  async *events(): AsyncGenerator<DriverEvent> {
    yield* this.events_;
    if (this.endError) throw this.endError;
  }

  /** We are done with `bytes` of the agent's data: credit goes back in batches. */
  consumed(bytes: number): void {
    const grant = this.receiveWindow.processed(bytes);
    if (grant > 0) this.toAgent({ case: "credit", value: { bytes: grant } });
  }

  /** Sends data as fast as the agent's credit allows; throws the channel's end error if it ends first. */
  async write(data: Uint8Array): Promise<void> {
    for (let offset = 0; offset < data.length;) {
      await this.sendWindow.ready();
      if (this.finished)
        throw this.endError ?? new ConnectError("the agent ended the channel before taking all the data", Code.Aborted);
      const n = this.sendWindow.take(data.length - offset);
      this.toAgent({ case: "data", value: { data: data.subarray(offset, offset + n) } });
      offset += n;
    }
  }

  sendInfo(info: ChannelInfo): void {
    if (!this.finished) this.channel.sendInfo(info);
  }

  /** Ends the channel from our side (no-op once ended); events() then ends with this code, unless it is CHANNEL_OK. */
  close(code: number, message: string): void {
    if (this.finished) return;
    this.finished = true;
    if (code !== CHANNEL_OK) this.endError = new ConnectError(message, code as Code);
    this.toAgent({ case: "close", value: { code, message } });
  }

  /** Resolves once the channel is accepted; keeps reading the agent's side until it closes. */
  private pump(onEnd: () => void): Promise<void> {
    const responses = this.channel.toTechnician[Symbol.asyncIterator]();
    return new Promise<void>((resolveOpened, rejectOpened) => {
      let accepted = false;
      const end = (error: ConnectError | undefined) => {
        // Closed by us first: our reason stands, not the relay's echo of it.
        if (!this.finished) {
          this.finished = true;
          this.endError = error;
        }
        this.sendWindow.cancel();
        this.events_.end();
        onEnd();
        if (!accepted)
          rejectOpened(
            this.endError ?? new ConnectError("the agent closed the channel before accepting it", Code.Unavailable),
          );
      };
      void (async () => {
        try {
          for (let next = await responses.next(); !next.done; next = await responses.next()) {
            const kind = next.value.kind;
            switch (kind.case) {
              case "opened":
                accepted = true;
                resolveOpened();
                break;
              case "credit":
                this.sendWindow.grant(kind.value.bytes);
                break;
              case "data":
                this.receiveWindow.received(kind.value.data.length);
                this.events_.push({ type: "data", data: kind.value.data });
                break;
              case "info":
                this.events_.push({ type: "info", info: kind.value });
                break;
              case "eof":
                this.events_.push({ type: "eof" });
                break;
              case "close":
                return end(
                  kind.value.code === CHANNEL_OK
                    ? undefined
                    : new ConnectError(kind.value.message || "the agent ended the channel", kind.value.code as Code),
                );
            }
          }
          end(new ConnectError("the channel ended without a close", Code.Unavailable));
        } catch (err) {
          end(ConnectError.from(err));
        }
      })();
    });
  }

  private toAgent(kind: NonNullable<MessageInitShape<typeof OpenChannelRequestSchema>["kind"]>): void {
    if (!this.relay.checkSession(this.channel, this.tech)) return;
    this.channel.fromTechnician(create(OpenChannelRequestSchema, { kind }));
  }
}
