import { Code } from "@connectrpc/connect";
import type { Dir } from "node:fs";
import { opendir } from "node:fs/promises";
import { join } from "node:path";
import type { ChannelInfo } from "../../gen/rmm/v1/frame_pb.js";
import type { ChannelIo } from "../channel-io.js";
import { describeEntry, type FileInfoInit } from "./file-info.js";
import { fileError } from "./file-error.js";
import { FileOperation } from "./file-operation.js";
import type { FileRoots } from "./file-roots.js";

/** Entries per batch. 256: a few tens of KiB per message. */
export const LIST_BATCH_ENTRIES = 256;
/**
 * Batches sent but not yet acknowledged. Batches are info frames, which do not
 * count against credit, so this is their flow control: the opener acks each
 * batch with an empty file_entries info, and a huge directory never piles up.
 */
export const LIST_MAX_UNACKED = 4;

/** Streams a directory's entries in batches, then closes. */
export class ListOperation extends FileOperation {
  private dir: Dir | undefined;
  private unacked = 0;
  private reading = false;
  private done = false;

  constructor(
    io: ChannelIo,
    private readonly roots: FileRoots,
    private readonly path: string,
  ) {
    super(io);
  }

  protected async start(): Promise<void> {
    const real = await this.roots.resolve(this.path);
    const dir = await opendir(real, { bufferSize: LIST_BATCH_ENTRIES }).catch((err: unknown) => {
      throw fileError(err, "cannot list", this.path);
    });
    // Closed while the directory was being opened: onClose found nothing to release, so this Dir is ours to close.
    if (this.closed) return dir.close().catch(() => undefined);
    this.dir = dir;
    await this.pump();
  }

  onInfo(info: ChannelInfo): void {
    if (info.kind.case !== "fileEntries")
      return this.refuse(Code.InvalidArgument, `a listing takes only acks, got ${info.kind.case ?? "empty"} info`);
    this.unacked = Math.max(0, this.unacked - 1);
    void this.guard(() => this.pump());
  }

  override onClose(): void {
    super.onClose();
    // A batch being read keeps the Dir until pump() sees the close and releases it.
    if (!this.reading) void this.release();
  }

  protected override async cleanupAfterError(): Promise<void> {
    await this.release();
  }

  private async pump(): Promise<void> {
    const dir = this.dir;
    if (this.reading || !dir) return;
    this.reading = true;
    try {
      while (!this.closed && !this.done && this.unacked < LIST_MAX_UNACKED) {
        const batch: FileInfoInit[] = [];
        for (
          let entry = await dir.read();
          entry;
          entry = batch.length < LIST_BATCH_ENTRIES && !this.closed ? await dir.read() : null
        ) {
          const path = join(dir.path, entry.name);
          // An entry deleted while we list is skipped rather than failing the whole listing.
          const info = await describeEntry(path).catch((err: NodeJS.ErrnoException) =>
            err.code === "ENOENT" ? undefined : Promise.reject(fileError(err, "cannot stat", path)),
          );
          if (info) batch.push(info);
        }
        if (batch.length < LIST_BATCH_ENTRIES) this.done = true;
        if (this.closed) return;
        if (batch.length > 0) {
          this.unacked += 1;
          this.io.sendInfo({ kind: { case: "fileEntries", value: { entries: batch } } });
        }
      }
      if (this.done) {
        await this.release();
        this.finish(0);
      }
    } finally {
      this.reading = false;
      if (this.closed) await this.release();
    }
  }

  private async release(): Promise<void> {
    const dir = this.dir;
    this.dir = undefined;
    await dir?.close().catch(() => undefined);
  }
}
