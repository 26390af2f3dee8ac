import type { ChannelOpen } from "../../gen/rmm/v1/frame_pb.js";
import type { ChannelHandler, ChannelIo } from "../channel-io.js";

/**
 * Creates a channel's handler from its open frame. Throwing a ConnectError
 * refuses the channel with that code and message (bad parameters, a
 * disabled type); the session carries on.
 */
export type ChannelFactory = ((io: ChannelIo, open: ChannelOpen) => ChannelHandler) & {
  /** Receive window granted to the opener; defaults to DEFAULT_WINDOW_BYTES. Bulk channels (file transfer) want more in flight. */
  readonly windowBytes?: number;
};
