import { Code, ConnectError, type Client } from "@connectrpc/connect";
import type { Recording, TunnelService } from "../gen/rmm/v1/tunnel_service_pb.js";

/** A recording being downloaded: what it is, then its bytes. */
export interface RecordingStream {
  recording: Recording;
  /** The file's bytes in order; throws DataLoss if the stream ends short of recording.sizeBytes. */
  chunks: AsyncGenerator<Uint8Array>;
}

/**
 * Starts DownloadRecording and waits for its first message, so a NotFound or
 * PermissionDenied surfaces before anything is written or played.
 */
export async function openRecording(
  client: Client<typeof TunnelService>,
  recordingId: bigint,
  signal?: AbortSignal,
): Promise<RecordingStream> {
  const stream = client.downloadRecording({ recordingId }, signal ? { signal } : {})[Symbol.asyncIterator]();
  const first = await stream.next();
  if (first.done || first.value.kind.case !== "recording")
    throw new ConnectError("the server's answer did not start with the recording", Code.Internal);
  const recording = first.value.kind.value;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    let received = 0n;
    try {
      for (let next = await stream.next(); !next.done; next = await stream.next()) {
        if (next.value.kind.case !== "chunk") continue;
        received += BigInt(next.value.kind.value.length);
        yield next.value.kind.value;
      }
    } finally {
      // A consumer that stops early (Ctrl-C, a failed write) ends the call too.
      await stream.return?.();
    }
    if (received !== recording.sizeBytes)
      throw new ConnectError(
        `recording ${recording.id} ended after ${received} of ${recording.sizeBytes} bytes`,
        Code.DataLoss,
      );
  }
  return { recording, chunks: chunks() };
}
