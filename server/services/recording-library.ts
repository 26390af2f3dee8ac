import { open, stat, type FileHandle } from "node:fs/promises";
import { isAbsolute, relative, resolve } from "node:path";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "../../common/logger.js";
import type { ListRecordingsRequest } from "../../gen/rmm/v1/tunnel_service_pb.js";
import type { Technician } from "../auth/claims.js";
import type { RecordingRow, RecordingStore } from "../store/index.js";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "./agent-directory.js";
import { actorOf, type AuditLog } from "./audit-log.js";
import { decodeIdPageToken, encodeIdPageToken } from "./id-page-token.js";

/** Longest string filter, as for the audit trail and session history. */
const MAX_FILTER_CHARS = 256;
/** Largest chunk DownloadRecording sends (the proto promises it): small enough for any client's message limit. */
export const RECORDING_CHUNK_BYTES = 64 * 1024;

/** A recording as listed: its row and the size of its file now (0 when the file is gone). */
export interface RecordingListing {
  row: RecordingRow;
  sizeBytes: number;
}

/**
 * Terminal recordings: which a technician may see (their own; admins all),
 * and reading one file back. Files are read only from under the recordings
 * directory, whatever a row says, so a tampered row cannot make the server
 * hand out another file.
 */
export class RecordingLibrary {
  constructor(
    private readonly deps: { store: RecordingStore; audit: AuditLog; log: Logger },
    /** `<data-dir>/recordings`, where the recorder writes, whether or not recording is on now. */
    private readonly recordingsDir: string,
  ) {}

  async list(
    tech: Technician,
    req: ListRecordingsRequest,
  ): Promise<{ listings: RecordingListing[]; nextPageToken: string }> {
    for (const [field, value] of Object.entries({
      agent_id: req.agentId,
      technician: req.technician,
      session_id: req.sessionId,
    }))
      if (value.length > MAX_FILTER_CHARS)
        throw new ConnectError(
          `${field} is ${value.length} characters; at most ${MAX_FILTER_CHARS}`,
          Code.InvalidArgument,
        );
    if (req.pageSize < 0) throw new ConnectError("page_size is negative", Code.InvalidArgument);
    if (tech.role !== "admin" && req.technician && req.technician !== tech.subject)
      throw new ConnectError(
        `technicians see only their own recordings (${tech.subject}); admins see all`,
        Code.PermissionDenied,
      );
    const technician = req.technician || (tech.role === "admin" ? "" : tech.subject);
    const size = req.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(req.pageSize, MAX_PAGE_SIZE);
    const rows = await this.deps.store.list(
      {
        ...(req.agentId && { agentId: req.agentId }),
        ...(technician && { technician }),
        ...(req.sessionId && { sessionId: req.sessionId }),
        ...(req.since && { sinceMs: timestampDate(req.since).getTime() }),
        ...(req.until && { untilMs: timestampDate(req.until).getTime() }),
      },
      decodeIdPageToken(req.pageToken),
      size + 1,
    );
    const page = rows.slice(0, size);
    const listings = await Promise.all(page.map(async (row) => ({ row, sizeBytes: (await this.sizeOf(row)) ?? 0 })));
    return {
      listings,
      nextPageToken: rows.length > size ? encodeIdPageToken(page.at(-1)!.id) : "",
    };
  }

  /**
   * Checks the caller may read the recording, audits the download, and
   * returns its listing (with the size this download carries) and the open
   * file, which the caller reads with readRecording and closes.
   */
  async download(tech: Technician, id: bigint): Promise<{ listing: RecordingListing; file: FileHandle }> {
    if (id < 1n)
      throw new ConnectError(`recording_id ${id} is not a recording id (they start at 1)`, Code.InvalidArgument);
    const row = id > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : await this.deps.store.get(Number(id));
    if (!row) throw new ConnectError(`no recording has id ${id}: list them with ListRecordings`, Code.NotFound);
    const audited = {
      actor: actorOf.technician(tech.subject),
      action: "recording.download" as const,
      agentId: row.agent_id,
      sessionId: row.session_id,
      via: tech.via,
    };
    if (tech.role !== "admin" && row.technician !== tech.subject) {
      await this.deps.audit.record({
        ...audited,
        outcome: "refused",
        reason: `recording ${id} is ${row.technician}'s`,
      });
      throw new ConnectError(
        `recording ${id} is another technician's; technicians read only their own, admins all`,
        Code.PermissionDenied,
      );
    }
    const path = this.pathOf(row);
    const handle = path === undefined ? undefined : await open(path, "r").catch(fileGone);
    if (!handle) throw new ConnectError(`recording ${id}'s file is no longer on the server`, Code.NotFound);
    try {
      const sizeBytes = (await handle.stat()).size;
      // Fail closed: a download the audit trail cannot hold does not happen.
      await this.deps.audit.record({ ...audited, outcome: "ok", reason: `recording ${id} (${sizeBytes} bytes)` });
      return { listing: { row, sizeBytes }, file: handle };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  private async sizeOf(row: RecordingRow): Promise<number | undefined> {
    const path = this.pathOf(row);
    if (path === undefined) return undefined;
    return (await stat(path).catch(fileGone))?.size;
  }

  private pathOf(row: RecordingRow): string | undefined {
    const path = resolve(row.recording_path);
    const inside = relative(this.recordingsDir, path);
    if (inside && !inside.startsWith("..") && !isAbsolute(inside)) return path;
    this.deps.log.warn(
      { recordingId: row.id, path },
      "a recording's path is outside the recordings directory; ignored",
    );
    return undefined;
  }
}

/** The file was removed (an operator cleaning up, another data dir): the recording is gone, not an error. */
function fileGone(err: NodeJS.ErrnoException): undefined {
  if (err.code === "ENOENT" || err.code === "ENOTDIR") return undefined;
  throw err;
}

/** Exactly `size` bytes from the start, in chunks of at most RECORDING_CHUNK_BYTES. */
export async function* readRecording(file: FileHandle, size: number): AsyncGenerator<Uint8Array> {
  let position = 0;
  while (position < size) {
    const buffer = Buffer.alloc(Math.min(RECORDING_CHUNK_BYTES, size - position));
    const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
    // The file was cut under us (an operator truncating it): what there was is all there is.
    if (bytesRead === 0) return;
    position += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}
