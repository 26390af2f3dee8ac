import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { sha256 } from "@noble/hashes/sha2.js";
import { Code, ConnectError } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { UploadRequestSchema } from "../../../gen/rmm/v1/tunnel_service_pb.js";
import type { TunnelClient } from "./browser-client.js";

/** Upload chunk size. Defaults to 64 KiB, the SDK's chunk size: tens of KiB per message is what the API asks for. */
export const UPLOAD_CHUNK_BYTES = 64 * 1024;

export type Progress = (doneBytes: number, totalBytes: number) => void;

/**
 * Downloads `path` into memory, checking the SHA-256 the agent sends at the
 * end against the bytes received (hashed incrementally: WebCrypto has no
 * streaming digest and is missing on plain-http origins).
 */
export async function downloadFile(
  client: TunnelClient,
  sessionId: string,
  path: string,
  progress: Progress,
  signal: AbortSignal,
): Promise<Blob> {
  const parts: Uint8Array<ArrayBuffer>[] = [];
  const hash = sha256.create();
  let total = 0;
  let done = 0;
  let digest: Uint8Array | undefined;
  for await (const msg of client.download({ sessionId, path }, { signal })) {
    if (msg.kind.case === "start") total = Number(msg.kind.value.info?.size ?? 0n);
    else if (msg.kind.case === "chunk") {
      parts.push(new Uint8Array(msg.kind.value));
      hash.update(msg.kind.value);
      done += msg.kind.value.length;
      progress(done, total);
    } else if (msg.kind.case === "sha256") digest = msg.kind.value;
  }
  if (!digest || !equal(digest, hash.digest()))
    throw new ConnectError("the downloaded bytes do not match the agent's SHA-256; nothing was saved", Code.DataLoss);
  return new Blob(parts);
}

/** Uploads `file` to `path` on the agent; the agent installs it only once the whole file's SHA-256 matches. */
export async function uploadFile(
  client: TunnelClient,
  sessionId: string,
  file: File,
  path: string,
  overwrite: boolean,
  progress: Progress,
  signal: AbortSignal,
): Promise<void> {
  const target = {
    path,
    overwrite,
    source: { size: BigInt(file.size), modifyTime: timestampFromMs(file.lastModified) },
  };
  const { offset } = await client.prepareUpload({ sessionId, target }, { signal });
  const start = Number(offset);
  async function* requests(): AsyncGenerator<MessageInitShape<typeof UploadRequestSchema>> {
    yield { kind: { case: "start", value: { sessionId, target, offset } } };
    const hash = sha256.create();
    for (let at = 0; at < file.size; at += UPLOAD_CHUNK_BYTES) {
      const chunk = new Uint8Array(await file.slice(at, at + UPLOAD_CHUNK_BYTES).arrayBuffer());
      hash.update(chunk);
      if (at + chunk.length <= start) continue;
      yield { kind: { case: "chunk", value: at < start ? chunk.subarray(start - at) : chunk } };
      progress(at + chunk.length, file.size);
    }
    yield { kind: { case: "sha256", value: hash.digest() } };
  }
  await client.upload(requests(), { signal });
  progress(file.size, file.size);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
