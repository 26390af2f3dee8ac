import { Code, ConnectError } from "@connectrpc/connect";
import type { ChannelHandler, ChannelIo } from "../channels/channel-handler.js";

/**
 * Base of every file channel operation: it starts after the channel is
 * accepted (factories must not send first), and any error it throws closes
 * the channel with that error's code; the session carries on.
 */
export abstract class FileOperation implements ChannelHandler {
  protected closed = false;

  constructor(protected readonly io: ChannelIo) {
    queueMicrotask(() => void this.guard(() => this.start()));
  }

  protected abstract start(): Promise<void>;

  /** Runs `step`; a failure ends the channel with its code. */
  protected async guard(step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (err) {
      await this.cleanupAfterError().catch(() => undefined);
      const e = err instanceof ConnectError ? err : new ConnectError(err instanceof Error ? err.message : String(err), Code.Internal);
      this.finish(e.code, e.rawMessage);
    }
  }

  /** Called before an error closes the channel (release files, delete what must not stay). */
  protected async cleanupAfterError(): Promise<void> {}

  protected finish(code: number, message = ""): void {
    if (this.closed) return;
    this.closed = true;
    this.io.close(code, message);
  }

  onData(_data: Uint8Array): void {
    this.finish(Code.InvalidArgument, "this file operation takes no data");
  }

  onCredit(): void {}

  onClose(): void {
    this.closed = true;
  }
}
