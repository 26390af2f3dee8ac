import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { open, readFile, rm, stat, writeFile, type FileHandle } from "node:fs/promises";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { installFile } from "../common/atomic-install.js";
import { FILE_CHUNK_BYTES, hashPrefix, readChunks } from "../common/file-chunks.js";
import {
  sameVersion,
  versionFromProto,
  versionOf,
  versionToProto,
  utimesSeconds,
  type FileVersionKey,
} from "../common/file-version.js";
import { errnoCode } from "../common/errno-code.js";
import { downloadPartialPaths } from "../common/partial-file.js";
import { UploadRequestSchema, type TunnelService, type UploadRequest } from "../gen/rmm/v1/tunnel_service_pb.js";

export interface TransferProgress {
  /** Bytes of the file now held by the receiving side, resumed part included. */
  transferred: number;
  total: number;
  /** Where this call started (bytes already held from an interrupted transfer). */
  resumedFrom: number;
}

export interface UploadOptions {
  sessionId: string;
  localPath: string;
  /** Absolute path on the agent. */
  remotePath: string;
  /** Replace an existing remote file. Default false: an existing file is AlreadyExists. */
  overwrite?: boolean;
  /** Create missing remote parent directories. Default false. */
  createParents?: boolean;
  /** Permission bits of the new remote file. Default 0644. */
  mode?: number;
  /** Give the remote file the local file's modification time (UploadTarget.keep_modify_time). Default false. */
  keepModifyTime?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: TransferProgress) => void;
}

export interface DownloadOptions {
  sessionId: string;
  /** Absolute path on the agent. */
  remotePath: string;
  localPath: string;
  /** Replace an existing local file. Default false: an existing file is AlreadyExists, before anything is transferred. */
  overwrite?: boolean;
  /**
   * Give the installed file the remote file's permission bits, masked by the
   * process umask, as scp does. Default false: the file keeps mode 0600.
   */
  keepMode?: boolean;
  /** Give the installed file the remote file's modification time, as `scp -p` does. Default false. */
  keepModifyTime?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: TransferProgress) => void;
}

export interface TransferResult {
  path: string;
  size: number;
  /** Hex SHA-256 of the whole file. */
  sha256: string;
  resumedFrom: number;
}

/**
 * Uploads a local file to the agent: asks where to resume (bytes the agent
 * kept from an interrupted upload of this same file version), streams the rest
 * in 64 KiB chunks, and sends the SHA-256 of the whole file; the agent installs
 * the file only if its own hash matches. Memory stays at a few chunks whatever the size.
 */
export async function uploadFile(client: Client<typeof TunnelService>, opts: UploadOptions): Promise<TransferResult> {
  const handle = await open(opts.localPath, "r").catch((err: unknown) => {
    throw localError(err, "cannot read", opts.localPath);
  });
  try {
    const s = await handle.stat();
    if (!s.isFile()) throw new ConnectError(`${opts.localPath} is not a regular file`, Code.InvalidArgument);
    const version = versionOf(s);
    const target = {
      path: opts.remotePath,
      source: versionToProto(version),
      overwrite: opts.overwrite ?? false,
      createParents: opts.createParents ?? false,
      mode: opts.mode ?? 0,
      keepModifyTime: opts.keepModifyTime ?? false,
    };
    const callOptions = opts.signal ? { signal: opts.signal } : {};
    const prepared = await client.prepareUpload({ sessionId: opts.sessionId, target }, callOptions);
    const resumedFrom = Number(prepared.offset);
    const hash = resumedFrom > 0 ? await hashPrefix(handle, resumedFrom) : createHash("sha256");
    const progress = (transferred: number) => opts.onProgress?.({ transferred, total: version.size, resumedFrom });
    async function* requests(): AsyncGenerator<UploadRequest> {
      yield create(UploadRequestSchema, {
        kind: { case: "start", value: { sessionId: opts.sessionId, target, offset: prepared.offset } },
      });
      let sent = resumedFrom;
      for await (const chunk of readChunks(handle, resumedFrom, version.size, FILE_CHUNK_BYTES)) {
        hash.update(chunk);
        yield create(UploadRequestSchema, { kind: { case: "chunk", value: chunk } });
        sent += chunk.length;
        progress(sent);
      }
      if (sent !== version.size)
        throw new ConnectError(`${opts.localPath} changed while being uploaded: upload again`, Code.Aborted);
      yield create(UploadRequestSchema, { kind: { case: "sha256", value: hash.digest() } });
    }
    const res = await client.upload(requests(), callOptions);
    return {
      path: res.info?.path ?? opts.remotePath,
      size: Number(res.info?.size ?? version.size),
      sha256: Buffer.from(res.sha256).toString("hex"),
      resumedFrom,
    };
  } finally {
    await handle.close();
  }
}

/** What a download's sidecar records: which remote file version the partial bytes came from. */
interface DownloadSidecar {
  remotePath: string;
  size: number;
  mtimeMs: number;
}

/**
 * Downloads a file from the agent into a partial file beside `localPath`,
 * resuming from what an interrupted download of the same remote version left
 * there, verifies the SHA-256 of the whole file, and only then renames it into
 * place. A mismatch deletes the partial file and throws DataLoss; `localPath`
 * is never half-written.
 */
export async function downloadFile(
  client: Client<typeof TunnelService>,
  opts: DownloadOptions,
): Promise<TransferResult> {
  if (!opts.overwrite && (await exists(opts.localPath))) {
    throw new ConnectError(`${opts.localPath} already exists: pass overwrite to replace it`, Code.AlreadyExists);
  }
  const partial = downloadPartialPaths(opts.localPath);
  const sidecar = await readSidecar(partial.sidecar);
  const held =
    sidecar && sidecar.remotePath === opts.remotePath
      ? ((await stat(partial.data).catch(() => undefined))?.size ?? 0)
      : 0;
  // Opened once the agent answered, so a refused download leaves nothing behind here.
  let handle: FileHandle | undefined;
  let verified = false;
  try {
    const stream = client.download(
      {
        sessionId: opts.sessionId,
        path: opts.remotePath,
        offset: BigInt(held),
        ...(held > 0 && sidecar && { source: versionToProto(sidecar) }),
      },
      opts.signal ? { signal: opts.signal } : {},
    );
    let resumedFrom = 0;
    let total = 0;
    let position = 0;
    let hash = createHash("sha256");
    let remoteSha: Uint8Array | undefined;
    let remoteMode = 0o600;
    let remoteMtimeMs: number | undefined;
    for await (const res of stream) {
      const kind = res.kind;
      if (kind.case === "start") {
        resumedFrom = Number(kind.value.offset);
        const version: FileVersionKey | undefined = versionFromProto(
          kind.value.info ? { size: kind.value.info.size, modifyTime: kind.value.info.modifyTime } : undefined,
        );
        total = version?.size ?? 0;
        remoteMtimeMs = version?.mtimeMs;
        if (kind.value.info?.mode) remoteMode = kind.value.info.mode & 0o7777;
        if (resumedFrom > held)
          throw new ConnectError(
            `the agent resumed at ${resumedFrom}, past the ${held} bytes held here`,
            Code.Internal,
          );
        handle = await open(partial.data, constants.O_RDWR | constants.O_CREAT, 0o600).catch((err: unknown) => {
          throw localError(err, "cannot write beside", opts.localPath);
        });
        // Fewer bytes than we hold (0 when the remote file changed): drop the rest.
        await handle.truncate(resumedFrom);
        hash = resumedFrom > 0 ? await hashPrefix(handle, resumedFrom) : createHash("sha256");
        position = resumedFrom;
        if (version && !(resumedFrom > 0 && sameVersion(sidecar, version)))
          await writeSidecar(partial.sidecar, { remotePath: opts.remotePath, ...version });
        opts.onProgress?.({ transferred: position, total, resumedFrom });
      } else if (kind.case === "chunk") {
        if (!handle) throw new ConnectError("the download sent data before its start", Code.Internal);
        await writeAll(handle, kind.value, position);
        hash.update(kind.value);
        position += kind.value.length;
        opts.onProgress?.({ transferred: position, total, resumedFrom });
      } else if (kind.case === "sha256") {
        remoteSha = kind.value;
      }
    }
    if (!remoteSha || !handle) throw new ConnectError("the download ended without its sha256", Code.DataLoss);
    const actual = hash.digest();
    if (position !== total || !actual.equals(remoteSha)) {
      await handle.close().catch(() => undefined);
      await discard(partial);
      throw new ConnectError(
        `SHA-256 mismatch for ${opts.remotePath}: received ${position} bytes hashing to ${actual.toString("hex")}, ` +
          `the agent sent ${total} bytes hashing to ${Buffer.from(remoteSha).toString("hex")}; ` +
          `the partial download was discarded and ${opts.localPath} is untouched`,
        Code.DataLoss,
      );
    }
    verified = true;
    if (opts.keepMode) await handle.chmod(remoteMode & ~process.umask());
    if (opts.keepModifyTime && remoteMtimeMs !== undefined) {
      const mtime = utimesSeconds(remoteMtimeMs);
      await handle.utimes(mtime, mtime);
    }
    await handle.close();
    await installFile(partial.data, opts.localPath, opts.overwrite ?? false).catch((err: unknown) => {
      throw localError(err, "cannot install", opts.localPath);
    });
    await rm(partial.sidecar, { force: true });
    return { path: opts.localPath, size: total, sha256: actual.toString("hex"), resumedFrom };
  } finally {
    if (!verified) await handle?.close().catch(() => undefined);
  }
}

async function writeAll(handle: FileHandle, data: Uint8Array, position: number): Promise<void> {
  for (let written = 0; written < data.length;) {
    const { bytesWritten } = await handle.write(data, written, data.length - written, position + written);
    written += bytesWritten;
  }
}

async function readSidecar(path: string): Promise<DownloadSidecar | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, "utf8")) as Partial<DownloadSidecar>;
    if (typeof parsed.remotePath === "string" && typeof parsed.size === "number" && typeof parsed.mtimeMs === "number")
      return parsed as DownloadSidecar;
  } catch {
    // Missing or unreadable: the partial cannot be trusted, so the download starts over.
  }
  return undefined;
}

async function writeSidecar(path: string, sidecar: DownloadSidecar): Promise<void> {
  await writeFile(path, JSON.stringify(sidecar) + "\n", { mode: 0o600 });
}

async function discard(partial: { data: string; sidecar: string }): Promise<void> {
  await rm(partial.data, { force: true });
  await rm(partial.sidecar, { force: true });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) =>
      err.code === "ENOENT" ? false : Promise.reject(localError(err, "cannot check", path)),
  );
}

/** Local filesystem errors as ConnectErrors, so callers handle one error type. */
function localError(err: unknown, what: string, path: string): ConnectError {
  if (err instanceof ConnectError) return err;
  return new ConnectError(`${what} ${path}: ${err instanceof Error ? err.message : String(err)}`, errnoCode(err));
}
