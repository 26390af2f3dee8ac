import { createHash, type Hash } from "node:crypto";
import { constants } from "node:fs";
import { open, readdir, stat, truncate, unlink, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { installFile } from "../../common/atomic-install.js";
import { hashPrefix } from "../../common/file-chunks.js";
import { utimesSeconds } from "../../common/file-version.js";
import { uploadPartialPrefix } from "../../common/partial-file.js";
import type { UploadStart } from "../../gen/rmm/v1/file_pb.js";
import type { ChannelInfo } from "../../gen/rmm/v1/frame_pb.js";
import type { ChannelIo } from "../channel-io.js";
import { describeResolved } from "./file-info.js";
import { fileError } from "./file-error.js";
import { FileOperation } from "./file-operation.js";
import type { FileRoots } from "./file-roots.js";
import type { PartialLocks } from "./partial-locks.js";
import { checkUploadTarget, type CheckedTarget } from "./upload-target.js";

/**
 * Receives an upload into a partial file beside the target, hashing as it
 * writes; on the opener's digest, installs it atomically only if the SHA-256
 * matches. Credit goes back only for bytes written to disk, so what waits in
 * memory never exceeds one window. A cut channel keeps the partial file for
 * resume; a failed one (bad hash, disk full) deletes it.
 */
export class UploadOperation extends FileOperation {
  private target: CheckedTarget | undefined;
  private handle: FileHandle | undefined;
  private hash: Hash = createHash("sha256");
  private position = 0;
  /** Writes run one after another, in arrival order, once start() settled; so does the release after a close. */
  private chain: Promise<void>;
  private unlock: (() => void) | undefined;
  /** Set once we opened the partial file: from then on a failure deletes it (a refusal before leaves held bytes alone). */
  private opened = false;
  /** Aborted when the channel is cut, so hashing a large held prefix stops early and the retry waiting on the lock gets it sooner. */
  private readonly cut = new AbortController();

  constructor(
    io: ChannelIo,
    private readonly roots: FileRoots,
    private readonly locks: PartialLocks,
    private readonly request: UploadStart,
  ) {
    super(io);
    this.chain = this.startSettled;
  }

  /**
   * Each `if (this.closed) return` below is a cut channel: stop touching the
   * partial (a retry may want its bytes) and leave the handle and the lock to
   * the release that onClose queued behind this start.
   */
  protected async start(): Promise<void> {
    const target = await checkUploadTarget(this.roots, this.request.target, true);
    this.target = target;
    if (this.closed) return;
    this.unlock = await this.locks.acquire(target.partialPath);
    if (this.closed) return;
    const offset = Number(this.request.offset);
    const held = (await stat(target.partialPath).catch(() => undefined))?.size ?? 0;
    if (this.closed) return;
    if (offset > held) {
      throw new ConnectError(
        `offset ${offset} is past the ${held} bytes the agent holds for this upload: call PrepareUpload for the offset`,
        Code.OutOfRange,
      );
    }
    if (offset > target.source.size)
      throw new ConnectError(
        `offset ${offset} is past the end of the ${target.source.size}-byte source`,
        Code.OutOfRange,
      );
    if (held > offset) await truncate(target.partialPath, offset);
    if (this.closed) return;
    this.handle = await open(target.partialPath, constants.O_RDWR | constants.O_CREAT, 0o600).catch((err: unknown) => {
      throw fileError(err, "cannot write beside", target.path);
    });
    this.opened = true;
    if (this.closed) return;
    this.hash = offset > 0 ? await hashPrefix(this.handle, offset, this.cut.signal) : createHash("sha256");
    if (this.closed) return;
    this.position = offset;
    // Tells the opener the target passed the checks and data may flow from here.
    this.io.sendInfo({ kind: { case: "uploadOffset", value: { offset: BigInt(offset) } } });
  }

  override onData(data: Uint8Array): void {
    this.chain = this.chain.then(() => this.guard(() => this.write(data)));
  }

  onInfo(info: ChannelInfo): void {
    if (info.kind.case !== "digest")
      return this.refuse(
        Code.InvalidArgument,
        `an upload takes only its digest, got ${info.kind.case ?? "empty"} info`,
      );
    const digest = info.kind.value;
    this.chain = this.chain.then(() => this.guard(() => this.complete(digest.sha256, Number(digest.size))));
  }

  override onClose(): void {
    super.onClose();
    this.cut.abort(new ConnectError("the upload channel closed", Code.Canceled));
    // Cut off (technician gone, tunnel closed): keep the partial file for a resume, released once start() and the writes before the close are done.
    this.chain = this.chain.then(() => this.release());
  }

  /** Queued behind the writes, like everything else that touches the partial file. */
  protected override refuse(code: Code, message: string): void {
    this.chain = this.chain.then(() => this.guard(() => Promise.reject(new ConnectError(message, code))));
  }

  protected override async cleanupAfterError(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => undefined);
    // Failed for good (bad hash, disk full, refused install): nothing half-written stays behind.
    // An error caused by the cut itself (the aborted hashing) is no such failure: the bytes stay for the retry.
    if (this.target && this.opened && !this.cut.signal.aborted)
      await unlink(this.target.partialPath).catch(() => undefined);
    this.unlock?.();
  }

  private async write(data: Uint8Array): Promise<void> {
    if (this.closed || !this.handle || !this.target) return;
    if (this.position + data.length > this.target.source.size) {
      throw new ConnectError(
        `received more than the ${this.target.source.size} bytes the source has`,
        Code.InvalidArgument,
      );
    }
    let written = 0;
    while (written < data.length) {
      const { bytesWritten } = await this.handle
        .write(data, written, data.length - written, this.position + written)
        .catch((err: unknown) => {
          throw fileError(err, "cannot write", this.target!.path);
        });
      written += bytesWritten;
    }
    this.hash.update(data);
    this.position += data.length;
    this.io.consumed(data.length);
  }

  private async complete(sha256: Uint8Array, size: number): Promise<void> {
    if (this.closed || !this.handle || !this.target) return;
    const target = this.target;
    if (size !== target.source.size || this.position !== size) {
      throw new ConnectError(
        `received ${this.position} bytes but the file has ${size} (source said ${target.source.size}): upload again`,
        Code.DataLoss,
      );
    }
    const actual = this.hash.digest();
    if (!actual.equals(sha256)) {
      throw new ConnectError(
        `SHA-256 mismatch: the agent received ${actual.toString("hex")}, ` +
          `the sender hashed ${Buffer.from(sha256).toString("hex")}; ` +
          `the partial upload was discarded and ${target.path} is untouched`,
        Code.DataLoss,
      );
    }
    await this.handle.chmod(target.mode);
    if (target.keepModifyTime) {
      const mtime = utimesSeconds(target.source.mtimeMs);
      await this.handle.utimes(mtime, mtime);
    }
    const handle = this.handle;
    this.handle = undefined;
    await handle.close();
    // Still holding the partial's lock: no retry can touch it while it is renamed into place.
    await installFile(target.partialPath, target.path, target.overwrite).catch((err: unknown) => {
      throw fileError(err, "cannot install", target.path);
    });
    await removeStalePartials(target.path, this.locks);
    await this.release();
    const info = await describeResolved(target.path);
    if (this.closed) return;
    this.io.sendInfo({ kind: { case: "fileInfo", value: info } });
    this.finish(0);
  }

  private async release(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => undefined);
    this.unlock?.();
  }
}

/**
 * Partials of other versions of this target, left by uploads that never
 * resumed: the target is now complete, so they are garbage. A partial whose
 * lock is held belongs to an upload of another version running right now
 * (its own install will replace this one): that one stays.
 */
async function removeStalePartials(target: string, locks: PartialLocks): Promise<void> {
  const prefix = uploadPartialPrefix(target);
  const dir = dirname(target);
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((n) => n.startsWith(prefix))
      .map(async (n) => {
        const path = join(dir, n);
        const release = locks.tryAcquire(path);
        if (!release) return;
        try {
          await unlink(path).catch(() => undefined);
        } finally {
          release();
        }
      }),
  );
}
