import { Code, ConnectError } from "@connectrpc/connect";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import type { ChannelFactory } from "./channel-factory.js";

/** Channel types an operator may switch off on an agent with `--disable-channel`. */
export const DISABLEABLE_CHANNELS = {
  exec: ChannelType.EXEC,
  terminal: ChannelType.TERMINAL,
  file: ChannelType.FILE,
  tcp: ChannelType.TCP,
} as const;
export type DisableableChannel = keyof typeof DISABLEABLE_CHANNELS;

export interface ChannelSet {
  factories: ReadonlyMap<ChannelType, ChannelFactory>;
  /** Advertised in hello: what the agent serves, never what it refuses. */
  capabilities: ChannelType[];
}

/**
 * The served channel types minus the disabled ones. A disabled type is refused
 * with PermissionDenied (the agent's own decision, whatever the server's policy
 * says) rather than Unimplemented, so the technician learns it was switched off.
 */
export function channelSet(
  served: ReadonlyMap<ChannelType, ChannelFactory>,
  disabled: readonly DisableableChannel[],
): ChannelSet {
  const factories = new Map(served);
  const off = new Set<ChannelType>(disabled.map((name) => DISABLEABLE_CHANNELS[name]));
  for (const type of off) {
    const name = ChannelType[type]!.toLowerCase();
    factories.set(type, () => {
      throw new ConnectError(
        `${name} channels are disabled on this agent (rmm-agent run --disable-channel ${name})`,
        Code.PermissionDenied,
      );
    });
  }
  return { factories, capabilities: [...served.keys()].filter((t) => !off.has(t)) };
}
