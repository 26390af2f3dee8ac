/**
 * The agent as a library: embed an Agent in another process with the
 * transport, channels and state file the rmm-agent command uses (main.ts is
 * that command and has side effects; import this module instead).
 *
 * @example
 * ```ts
 * import { Agent, createGrpcTransport, defaultStatePath, readState } from "rmm-tunnel/agent";
 * const { server, agentId, credential } = readState(defaultStatePath());
 * const transport = createGrpcTransport(server);
 * await new Agent({ agentId, credential, info, transport, log }).run(stop.signal);
 * ```
 */
export { Agent, DEFAULT_CHANNELS, type AgentOptions } from "./agent.js";
export { Backoff, type BackoffOptions } from "./backoff.js";
export type { ChannelFactory } from "./channels/channel-factory.js";
export { channelSet, DISABLEABLE_CHANNELS, type ChannelSet, type DisableableChannel } from "./channels/channel-set.js";
export { fileChannel } from "./channels/file-channel.js";
export { FileRoots } from "./files/file-roots.js";
export { createGrpcTransport, type GrpcTransportOptions } from "./grpc-transport.js";
export { defaultStatePath, readState, writeState, type AgentState } from "./state-file.js";
export type { AgentStream, AgentTransport } from "./transport.js";
