import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ReceiveWindow, SendWindow } from "../common/credit-window.js";
import type { ExitStatusSchema, OutputStream, WindowSize } from "../gen/rmm/v1/exec_pb.js";
import type { ChannelInfo, ChannelInfoSchema } from "../gen/rmm/v1/frame_pb.js";

// The contract between one channel implementation and the multiplexer that carries it: what a channel may do
// (ChannelIo) and what it is told (ChannelHandler). It sits below channels/, files/ and process/, which all use it.

export type ChannelInfoInit = MessageInitShape<typeof ChannelInfoSchema>;
export type ExitStatusInit = MessageInitShape<typeof ExitStatusSchema>;

/** What a channel implementation may do on its channel. */
export interface ChannelIo {
  readonly channelId: number;
  /** Credit the peer granted us; take() from it before sendData(). */
  readonly sendWindow: SendWindow;
  /** Sends data the caller took credit for; exec channels tag stdout/stderr. */
  /** `data` is encoded before this returns, so the caller may reuse its buffer afterwards. */
  sendData(data: Uint8Array, stream?: OutputStream): void;
  /** Sends a structured message (process started, file metadata, digest). Not subject to credit: keep them few and small. */
  sendInfo(info: ChannelInfoInit): void;
  /** We will send no more data; the peer may still send. */
  sendEof(): void;
  /** The handler finished with `bytes` of received data: credit flows back to the peer in batches. */
  consumed(bytes: number): void;
  /** Ends the channel from our side; process channels say how the process ended. */
  close(code: number, message: string, exit?: ExitStatusInit): void;
  readonly receiveWindow: ReceiveWindow;
}

/** One channel type's behaviour. Optional hooks are frames only some types accept; the others refuse them. */
export interface ChannelHandler {
  onData(data: Uint8Array): void;
  /** The peer granted more credit. */
  onCredit(): void;
  /** The channel ended (peer closed, tunnel closed, stream dropped): release everything. */
  onClose(code: number, message: string): void;
  /** The peer sends no more data. */
  onEof?(): void;
  onResize?(size: WindowSize): void;
  onInfo?(info: ChannelInfo): void;
}
