/**
 * The technician SDK: what a program needs to open tunnels and channels and
 * move files, the surface README documents. Everything else under client/ is
 * how it is done and may change.
 *
 * @example
 * ```ts
 * import { ChannelClient, ChannelType, createTechnicianClient } from "rmm-tunnel/client";
 * const rmm = createTechnicianClient("https://rmm.example.com:7443", token);
 * const { session } = await rmm.openTunnel({ agentId });
 * const echo = await ChannelClient.open(rmm, { sessionId: session!.id, type: ChannelType.ECHO });
 * ```
 */
export { createTechnicianClient, RECEIVE_WINDOW_BYTES } from "./technician-client.js";
export { ChannelClient, MAX_CHUNK_BYTES, type ChannelEnd, type OpenChannelOptions } from "./channel-client.js";
export {
  downloadFile,
  uploadFile,
  type DownloadOptions,
  type TransferProgress,
  type TransferResult,
  type UploadOptions,
} from "./file-transfer.js";
export { openRecording, type RecordingStream } from "./recording-stream.js";
// The contract the calls above speak, so a caller needs no path into gen/.
export { ChannelType } from "../gen/rmm/v1/frame_pb.js";
export { CloseReason, SessionState, TunnelService } from "../gen/rmm/v1/tunnel_service_pb.js";
