import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { FileInfo } from "../../gen/rmm/v1/file_pb.js";
import type { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import type { ChannelDriver } from "../services/channel-driver.js";
import { serveDownload } from "./file-download-handler.js";
import { checkUploadTarget, requireAgentPath } from "./file-request-checks.js";
import { authorizeFile, openFileChannel, recordFailure, type FileTransferDeps } from "./file-transfer-context.js";
import { serveUpload } from "./file-upload-handler.js";
import type { Technician } from "../auth/claims.js";
import type { FileOperationName } from "../store/index.js";
import { technicianOf } from "./technician-of.js";

export type { FileTransferDeps } from "./file-transfer-context.js";

/** The file RPCs of TunnelService: each runs one file channel to the session's agent. */
export type FileTransferHandler = Pick<
  ServiceImpl<typeof TunnelService>,
  "stat" | "listDirectory" | "prepareUpload" | "makeDirectory" | "upload" | "download"
>;

export function fileTransferHandler(deps: FileTransferDeps): FileTransferHandler {
  return {
    async stat(req, ctx) {
      const tech = technicianOf(ctx);
      const path = await authorizeFile(deps, tech, req.sessionId, "stat", requireAgentPath(req.path));
      const driver = await openFileChannel(
        deps,
        tech,
        req.sessionId,
        { case: "statPath", value: path },
        { signal: ctx.signal },
      );
      try {
        let info: FileInfo | undefined;
        for await (const ev of driver.events())
          if (ev.type === "info" && ev.info.kind.case === "fileInfo") info = ev.info.kind.value;
        if (!info) throw new ConnectError("the agent ended the stat without an answer", Code.Internal);
        return { info };
      } catch (err) {
        await recordFailure(deps, entryFor(driver, tech, req.sessionId, "stat", path), err);
        throw err;
      }
    },

    async *listDirectory(req, ctx) {
      const tech = technicianOf(ctx);
      const path = await authorizeFile(deps, tech, req.sessionId, "list", requireAgentPath(req.path));
      const driver = await openFileChannel(
        deps,
        tech,
        req.sessionId,
        { case: "listPath", value: path },
        { signal: ctx.signal },
      );
      try {
        for await (const ev of driver.events()) {
          if (ev.type !== "info" || ev.info.kind.case !== "fileEntries") continue;
          yield { entries: ev.info.kind.value.entries };
          // The caller took this batch: ack it so the agent reads the next (it keeps only a few unacked).
          driver.sendInfo(ackInfo());
        }
      } catch (err) {
        await recordFailure(deps, entryFor(driver, tech, req.sessionId, "list", path), err);
        throw err;
      } finally {
        driver.close(Code.Canceled, "listing call ended");
      }
    },

    async prepareUpload(req, ctx) {
      const tech = technicianOf(ctx);
      const checked = checkUploadTarget(req.target, deps.maxTransferBytes);
      const target = {
        ...checked.target,
        path: await authorizeFile(deps, tech, req.sessionId, "prepare_upload", checked.target.path, checked.size),
      };
      const driver = await openFileChannel(
        deps,
        tech,
        req.sessionId,
        { case: "prepareUpload", value: target },
        { signal: ctx.signal },
      );
      try {
        let offset: bigint | undefined;
        for await (const ev of driver.events())
          if (ev.type === "info" && ev.info.kind.case === "uploadOffset") offset = ev.info.kind.value.offset;
        if (offset === undefined)
          throw new ConnectError("the agent ended the prepare without an offset", Code.Internal);
        return { offset };
      } catch (err) {
        await recordFailure(
          deps,
          {
            ...entryFor(driver, tech, req.sessionId, "prepare_upload", target.path),
            size: Number(target.source?.size ?? 0),
          },
          err,
        );
        throw err;
      }
    },

    async makeDirectory(req, ctx) {
      const tech = technicianOf(ctx);
      const asked = req.directory;
      if (!asked) throw new ConnectError("directory is missing: give its path", Code.InvalidArgument);
      if (asked.mode > 0o7777)
        throw new ConnectError(
          `directory.mode 0${asked.mode.toString(8)} is not a permission mode (at most 07777)`,
          Code.InvalidArgument,
        );
      const path = await authorizeFile(
        deps,
        tech,
        req.sessionId,
        "make_directory",
        requireAgentPath(asked.path, "directory.path"),
      );
      const driver = await openFileChannel(
        deps,
        tech,
        req.sessionId,
        { case: "makeDirectory", value: { ...asked, path } },
        { signal: ctx.signal },
      );
      try {
        let info: FileInfo | undefined;
        for await (const ev of driver.events())
          if (ev.type === "info" && ev.info.kind.case === "fileInfo") info = ev.info.kind.value;
        if (!info) throw new ConnectError("the agent ended the directory creation without an answer", Code.Internal);
        // It changes the agent's disk, as an upload does: it leaves a row, not only its refusals.
        await deps.transfers.record({
          ...entryFor(driver, tech, req.sessionId, "make_directory", path),
          outcome: "ok",
        });
        return { info };
      } catch (err) {
        await recordFailure(deps, entryFor(driver, tech, req.sessionId, "make_directory", path), err);
        throw err;
      }
    },

    upload: (requests, ctx) => serveUpload(deps, requests, ctx),
    download: (req, ctx) => serveDownload(deps, req, ctx),
  };
}

function ackInfo() {
  return {
    $typeName: "rmm.v1.ChannelInfo" as const,
    kind: { case: "fileEntries" as const, value: { $typeName: "rmm.v1.FileEntries" as const, entries: [] } },
  };
}

function entryFor(
  driver: ChannelDriver,
  tech: Technician,
  sessionId: string,
  operation: FileOperationName,
  path: string,
) {
  return { technician: tech.subject, via: tech.via, agentId: driver.session.agentId, sessionId, operation, path };
}
