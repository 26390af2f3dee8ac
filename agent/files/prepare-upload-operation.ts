import type { UploadTarget } from "../../gen/rmm/v1/file_pb.js";
import type { ChannelIo } from "../channel-io.js";
import { FileOperation } from "./file-operation.js";
import type { FileRoots } from "./file-roots.js";
import type { PartialLocks } from "./partial-locks.js";
import { checkUploadTarget, heldBytes } from "./upload-target.js";

/** Checks an upload target and answers with the bytes already held for its source version (the resume offset), then closes. */
export class PrepareUploadOperation extends FileOperation {
  constructor(
    io: ChannelIo,
    private readonly roots: FileRoots,
    private readonly locks: PartialLocks,
    private readonly target: UploadTarget,
  ) {
    super(io);
  }

  protected async start(): Promise<void> {
    // Parents are only created once data really comes (Upload), so a prepare alone changes nothing on disk.
    const checked = await checkUploadTarget(this.roots, this.target, false);
    // An upload of this same partial that was just cut may still be writing: report what it ends with.
    await this.locks.settled(checked.partialPath);
    const offset = await heldBytes(checked);
    if (this.closed) return;
    this.io.sendInfo({ kind: { case: "uploadOffset", value: { offset: BigInt(offset) } } });
    this.finish(0);
  }
}
