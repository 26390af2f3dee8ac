import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { DownloadRequest } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { checkTransferSize, requireAgentPath } from "./file-request-checks.js";
import {
  authorizeFile,
  beginTransfer,
  failureOf,
  openFileChannel,
  type FileTransferDeps,
} from "./file-transfer-context.js";
import { technicianOf } from "./technician-of.js";

/**
 * TunnelService.Download: `start`, chunks, then `sha256`. Credit goes back to
 * the agent only once the caller has taken a chunk, so a slow reader slows
 * the agent instead of filling the server's memory.
 */
export async function* serveDownload(deps: FileTransferDeps, req: DownloadRequest, ctx: HandlerContext) {
  const tech = technicianOf(ctx);
  const path = await authorizeFile(deps, tech, req.sessionId, "download", requireAgentPath(req.path));
  const driver = await openFileChannel(
    deps,
    tech,
    req.sessionId,
    {
      case: "download",
      value: { $typeName: "rmm.v1.DownloadStart", path, offset: req.offset, ...(req.source && { source: req.source }) },
    },
    { signal: ctx.signal },
  );
  const entry = {
    technician: tech.subject,
    via: tech.via,
    agentId: driver.session.agentId,
    sessionId: req.sessionId,
    operation: "download" as const,
    path,
  };
  const running = await beginTransfer(deps, driver, entry);
  let size: number | undefined;
  let offset = 0;
  let sent = 0;
  let sha256: string | undefined;
  let recorded = false;
  const recordCancelled = () => {
    if (recorded) return;
    recorded = true;
    driver.close(Code.Canceled, "download call ended");
    void running.finish({
      ...entry,
      size,
      resumedFrom: offset,
      bytesTransferred: sent,
      ...failureOf(new ConnectError("download call cancelled", Code.Canceled)),
    });
  };
  // A cancelled call may leave this generator suspended at a yield for good; the abort still ends and audits it.
  ctx.signal.addEventListener("abort", recordCancelled, { once: true });
  try {
    for await (const ev of driver.events()) {
      if (ev.type === "data") {
        yield { kind: { case: "chunk" as const, value: ev.data } };
        sent += ev.data.length;
        driver.consumed(ev.data.length);
      } else if (ev.type === "info" && ev.info.kind.case === "downloadStart") {
        const start = ev.info.kind.value;
        size = Number(start.info?.size ?? 0);
        offset = Number(start.offset);
        checkTransferSize(size, deps.maxTransferBytes, path);
        yield { kind: { case: "start" as const, value: { info: start.info, offset: start.offset } } };
      } else if (ev.type === "info" && ev.info.kind.case === "digest") {
        sha256 = Buffer.from(ev.info.kind.value.sha256).toString("hex");
        yield { kind: { case: "sha256" as const, value: ev.info.kind.value.sha256 } };
      }
    }
    if (sha256 === undefined) throw new ConnectError("the agent ended the download without its digest", Code.Internal);
    recorded = true;
    await running.finish({ ...entry, size, resumedFrom: offset, bytesTransferred: sent, sha256, outcome: "ok" });
  } catch (err) {
    const e = ConnectError.from(err);
    driver.close(e.code, e.rawMessage);
    if (!recorded) {
      recorded = true;
      await running.finish({ ...entry, size, resumedFrom: offset, bytesTransferred: sent, ...failureOf(e) });
    }
    throw e;
  } finally {
    ctx.signal.removeEventListener("abort", recordCancelled);
    // The caller went away mid-download (the generator was returned early): end the agent's side too.
    recordCancelled();
  }
}
