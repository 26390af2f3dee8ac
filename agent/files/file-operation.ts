import { Code, ConnectError } from "@connectrpc/connect";
import type { ChannelHandler, ChannelIo } from "../channel-io.js";

/**
 * Base of every file channel operation: it starts after the channel is
 * accepted (factories must not send first), and any error it throws closes
 * the channel with that error's code; the session carries on.
 *
 * The channel may close while start() is still awaiting the disk. Subclasses
 * check `closed` after each await in start() and stop there; whatever start()
 * opened is released only once `startSettled` resolves, so a release never
 * races the opening it undoes (and a file opened after the close is not leaked).
 */
export abstract class FileOperation implements ChannelHandler {
  protected closed = false;
  /** Resolves once start() returned or threw, its cleanup after an error included. Never rejects. */
  protected readonly startSettled: Promise<void>;

  constructor(protected readonly io: ChannelIo) {
    this.startSettled = new Promise<void>((resolve) =>
      queueMicrotask(() => void this.guard(() => this.start()).then(resolve, resolve)),
    );
  }

  protected abstract start(): Promise<void>;

  /** Runs `step`; a failure ends the channel with its code. */
  protected async guard(step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (err) {
      await this.cleanupAfterError().catch(() => undefined);
      const e =
        err instanceof ConnectError
          ? err
          : new ConnectError(err instanceof Error ? err.message : String(err), Code.Internal);
      this.finish(e.code, e.rawMessage);
    }
  }

  /** Called before an error closes the channel (release files, delete what must not stay). */
  protected async cleanupAfterError(): Promise<void> {}

  /**
   * Ends the channel for a frame this operation does not take. It fails like
   * any other error, so what the operation holds is released; after start()
   * settled, so that release does not race the opening.
   */
  protected refuse(code: Code, message: string): void {
    void this.startSettled.then(() => this.guard(() => Promise.reject(new ConnectError(message, code))));
  }

  protected finish(code: number, message = ""): void {
    if (this.closed) return;
    this.closed = true;
    this.io.close(code, message);
  }

  onData(_data: Uint8Array): void {
    this.refuse(Code.InvalidArgument, "this file operation takes no data");
  }

  onCredit(): void {}

  onClose(): void {
    this.closed = true;
  }
}
