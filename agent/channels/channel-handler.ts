import type { ReceiveWindow, SendWindow } from "../../common/credit-window.js";

/** What a channel implementation may do on its channel. */
export interface ChannelIo {
  readonly channelId: number;
  /** Credit the peer granted us; take() from it before sendData(). */
  readonly sendWindow: SendWindow;
  /** Sends data the caller took credit for. */
  sendData(data: Uint8Array): void;
  /** The handler finished with `bytes` of received data: credit flows back to the peer in batches. */
  consumed(bytes: number): void;
  /** Ends the channel from our side. */
  close(code: number, message: string): void;
  readonly receiveWindow: ReceiveWindow;
}

/** One channel type's behaviour. */
export interface ChannelHandler {
  onData(data: Uint8Array): void;
  /** The peer granted more credit. */
  onCredit(): void;
  /** The channel ended (peer closed, tunnel closed, stream dropped): release everything. */
  onClose(code: number, message: string): void;
}

export type ChannelFactory = (io: ChannelIo, parameters: Record<string, string>) => ChannelHandler;
