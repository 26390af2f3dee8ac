import type { ChannelType } from "../../gen/rmm/v1/frame_pb.js";

/** Which way channel data was relayed. */
export type RelayDirection = "to_agent" | "to_technician";

/** What the relay reports as channels open, carry data and end (metrics listen; the relay does not know them). */
export interface ChannelObserver {
  channelOpened(type: ChannelType): void;
  channelEnded(type: ChannelType): void;
  relayed(type: ChannelType, direction: RelayDirection, bytes: number): void;
}

export const noChannelObserver: ChannelObserver = {
  channelOpened: () => undefined,
  channelEnded: () => undefined,
  relayed: () => undefined,
};
