import type { ChannelIo } from "../channel-io.js";
import { describeResolved } from "./file-info.js";
import { fileError } from "./file-error.js";
import { FileOperation } from "./file-operation.js";
import type { FileRoots } from "./file-roots.js";

/** Answers with the metadata of what the path resolves to, then closes. */
export class StatOperation extends FileOperation {
  constructor(
    io: ChannelIo,
    private readonly roots: FileRoots,
    private readonly path: string,
  ) {
    super(io);
  }

  protected async start(): Promise<void> {
    const real = await this.roots.resolve(this.path);
    const info = await describeResolved(real).catch((err: unknown) => {
      throw fileError(err, "cannot stat", this.path);
    });
    if (this.closed) return;
    this.io.sendInfo({ kind: { case: "fileInfo", value: info } });
    this.finish(0);
  }
}
