import { createHash, type Hash } from "node:crypto";
import { open, type FileHandle } from "node:fs/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import { hashPrefix, FILE_CHUNK_BYTES } from "../../common/file-chunks.js";
import { sameVersion, versionFromProto, versionOf } from "../../common/file-version.js";
import type { DownloadStart } from "../../gen/rmm/v1/file_pb.js";
import type { ChannelIo } from "../channel-io.js";
import { fileInfoFromStats } from "./file-info.js";
import { fileError } from "./file-error.js";
import { FileOperation } from "./file-operation.js";
import type { FileRoots } from "./file-roots.js";

/** Bytes read from disk at once, sent as 64 KiB chunks: fewer, larger reads cost the agent less CPU per byte. */
const READ_BYTES = 4 * FILE_CHUNK_BYTES;

/**
 * Sends a file from an offset, as fast as the opener's credit allows, hashing
 * the whole file (the part before the offset is hashed from disk first), then
 * the digest. A resume whose source version no longer matches starts over at 0.
 */
export class DownloadOperation extends FileOperation {
  private handle: FileHandle | undefined;
  private hash: Hash = createHash("sha256");
  private position = 0;
  private size = 0;
  private reading = false;
  /**
   * One read buffer per download, reused for every read: sendData encodes its
   * bytes before it returns (ChannelIo.sendData). A fresh buffer per read lives
   * outside V8's heap, where a young generation sized for an agent collects it
   * only after tens of MiB of them piled up: the agent's RSS during a 256 MiB
   * download stood 44.7 MiB above idle.
   */
  private buffer: Buffer | undefined;
  /** Data may flow only after download_start went out. */
  private started = false;
  /** Aborted when the channel is cut, so hashing a large prefix for a resume stops early. */
  private readonly cut = new AbortController();

  constructor(
    io: ChannelIo,
    private readonly roots: FileRoots,
    private readonly request: DownloadStart,
  ) {
    super(io);
  }

  protected async start(): Promise<void> {
    const { request } = this;
    const real = await this.roots.resolve(request.path);
    this.handle = await open(real, "r").catch((err: unknown) => {
      throw fileError(err, "cannot read", request.path);
    });
    if (this.closed) return this.release();
    const s = await this.handle.stat();
    if (s.isDirectory())
      throw new ConnectError(
        `${request.path} is a directory: download a file (list it with ListDirectory)`,
        Code.FailedPrecondition,
      );
    if (!s.isFile()) throw new ConnectError(`${request.path} is not a regular file`, Code.FailedPrecondition);
    let offset = Number(request.offset);
    const source = versionFromProto(request.source);
    // The first part came from another version of the file: start over rather than splice two versions.
    if (offset > 0 && source && !sameVersion(source, versionOf(s))) offset = 0;
    if (offset > s.size)
      throw new ConnectError(`offset ${offset} is past the end of ${request.path} (${s.size} bytes)`, Code.OutOfRange);
    this.hash = offset > 0 ? await hashPrefix(this.handle, offset, this.cut.signal) : createHash("sha256");
    this.position = offset;
    this.size = s.size;
    if (this.closed) return this.release();
    this.io.sendInfo({
      kind: { case: "downloadStart", value: { path: real, offset: BigInt(offset), info: fileInfoFromStats(real, s) } },
    });
    this.started = true;
    await this.pump();
  }

  override onCredit(): void {
    void this.guard(() => this.pump());
  }

  override onClose(): void {
    super.onClose();
    this.cut.abort(new ConnectError("the download channel closed", Code.Canceled));
    // After start() settled: closing the handle under its open or hashing would leak it or fail them. A read in progress releases it itself.
    void this.startSettled.then(() => (this.reading ? undefined : this.release()));
  }

  protected override async cleanupAfterError(): Promise<void> {
    await this.release();
  }

  private async pump(): Promise<void> {
    if (this.reading || !this.started || !this.handle) return;
    this.reading = true;
    try {
      while (!this.closed && this.position < this.size) {
        const want = Math.min(this.io.sendWindow.credit, READ_BYTES, this.size - this.position);
        if (want === 0) return;
        this.buffer ??= Buffer.allocUnsafeSlow(Math.min(READ_BYTES, this.size));
        const buffer = this.buffer;
        const { bytesRead } = await this.handle.read(buffer, 0, want, this.position);
        if (bytesRead === 0)
          throw new ConnectError(`${this.request.path} shrank while being sent: download again`, Code.Aborted);
        if (this.closed) return;
        this.io.sendWindow.take(bytesRead);
        this.hash.update(buffer.subarray(0, bytesRead));
        this.position += bytesRead;
        for (let at = 0; at < bytesRead; at += FILE_CHUNK_BYTES)
          this.io.sendData(buffer.subarray(at, Math.min(at + FILE_CHUNK_BYTES, bytesRead)));
      }
      if (this.closed) return;
      this.io.sendInfo({ kind: { case: "digest", value: { sha256: this.hash.digest(), size: BigInt(this.size) } } });
      await this.release();
      this.finish(0);
    } finally {
      this.reading = false;
      if (this.closed) await this.release();
    }
  }

  private async release(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => undefined);
  }
}
