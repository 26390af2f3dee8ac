import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { FileInfo } from "../../gen/rmm/v1/file_pb.js";
import type { UploadRequest } from "../../gen/rmm/v1/tunnel_service_pb.js";
import type { ChannelDriver } from "../services/channel-driver.js";
import { checkSha256, checkUploadTarget } from "./file-request-checks.js";
import {
  authorizeFile,
  beginTransfer,
  failureOf,
  openFileChannel,
  type FileTransferDeps,
} from "./file-transfer-context.js";
import { technicianOf } from "./technician-of.js";

/**
 * TunnelService.Upload: `start`, chunks, then `sha256`. Chunks go to the agent
 * only as fast as its credit allows, and the next chunk is read from the
 * caller only after that, so the server holds at most one chunk per upload.
 * The file appears on the agent only once the agent's own hash matched.
 */
export async function serveUpload(deps: FileTransferDeps, requests: AsyncIterable<UploadRequest>, ctx: HandlerContext) {
  const tech = technicianOf(ctx);
  const inbound = requests[Symbol.asyncIterator]();
  const first = await inbound.next();
  if (first.done || first.value.kind.case !== "start") {
    throw new ConnectError(
      `the first upload message must be start, got ${first.done ? "nothing" : (first.value.kind.case ?? "an empty message")}`,
      Code.InvalidArgument,
    );
  }
  const start = first.value.kind.value;
  const checked = checkUploadTarget(start.target, deps.maxTransferBytes);
  const size = checked.size;
  const target = {
    ...checked.target,
    path: await authorizeFile(deps, tech, start.sessionId, "upload", checked.target.path, size),
  };
  const offset = Number(start.offset);
  if (offset > size)
    throw new ConnectError(`offset ${offset} is past the end of the ${size}-byte source`, Code.OutOfRange);
  const driver: ChannelDriver = await openFileChannel(
    deps,
    tech,
    start.sessionId,
    { case: "upload", value: { $typeName: "rmm.v1.UploadStart", target, offset: start.offset } },
    { signal: ctx.signal },
  );
  const entry = {
    technician: tech.subject,
    via: tech.via,
    agentId: driver.session.agentId,
    sessionId: start.sessionId,
    operation: "upload" as const,
    path: target.path,
    size,
    resumedFrom: offset,
  };
  const running = await beginTransfer(deps, driver, entry);
  let received = 0;
  const events = driver.events()[Symbol.asyncIterator]();
  try {
    // The agent confirms the target and offset before we read data from the caller, so a refusal comes back at once.
    const ready = await events.next();
    if (ready.done || ready.value.type !== "info" || ready.value.info.kind.case !== "uploadOffset") {
      throw new ConnectError("the agent ended the upload before accepting it", Code.Unavailable);
    }
    let digest: Uint8Array | undefined;
    for (let next = await inbound.next(); !next.done; next = await inbound.next()) {
      const kind = next.value.kind;
      if (kind.case === "chunk") {
        if (offset + received + kind.value.length > size)
          throw new ConnectError(
            `received more than the ${size} bytes target.source.size announced`,
            Code.InvalidArgument,
          );
        await driver.write(kind.value);
        received += kind.value.length;
      } else if (kind.case === "sha256") {
        digest = checkSha256(kind.value);
        break;
      } else {
        throw new ConnectError(
          `unexpected ${kind.case ?? "empty message"} during an upload: send chunks, then sha256`,
          Code.InvalidArgument,
        );
      }
    }
    if (!digest)
      throw new ConnectError(
        `the upload ended without its sha256 after ${offset + received} of ${size} bytes; the agent keeps them: PrepareUpload and Upload again to resume`,
        Code.InvalidArgument,
      );
    driver.sendInfo({
      $typeName: "rmm.v1.ChannelInfo",
      kind: { case: "digest", value: { $typeName: "rmm.v1.TransferDigest", sha256: digest, size: BigInt(size) } },
    });
    let info: FileInfo | undefined;
    for (let ev = await events.next(); !ev.done; ev = await events.next()) {
      if (ev.value.type === "info" && ev.value.info.kind.case === "fileInfo") info = ev.value.info.kind.value;
    }
    if (!info) throw new ConnectError("the agent ended the upload without confirming the file", Code.Internal);
    const sha256 = Buffer.from(digest).toString("hex");
    await running.finish({ ...entry, bytesTransferred: received, sha256, outcome: "ok" });
    return { info, sha256: digest, bytesReceived: BigInt(received) };
  } catch (err) {
    const e = ConnectError.from(err);
    driver.close(e.code, e.rawMessage);
    await running.finish({ ...entry, bytesTransferred: received, ...failureOf(e) });
    throw e;
  }
}
