import type { TransferProgress } from "../client/file-transfer.js";
import type { TransferProgressBar } from "./transfer-progress-bar.js";

/**
 * One progress bar for many files: the bytes of every file done (copied or
 * already in place) plus those of the files in flight, against the size of
 * the whole copy.
 */
export class TreeProgress {
  private done = 0;
  private readonly inFlight = new Map<number, number>();

  constructor(
    private readonly bar: TransferProgressBar | undefined,
    private readonly total: number,
  ) {}

  /** Bytes that need no transfer (files already at their target). */
  alreadyThere(bytes: number): void {
    this.done += bytes;
    this.emit();
  }

  file(index: number, p: TransferProgress): void {
    this.inFlight.set(index, p.transferred);
    this.emit();
  }

  finished(index: number, size: number): void {
    this.inFlight.delete(index);
    this.done += size;
    this.emit();
  }

  get transferred(): number {
    let sum = this.done;
    for (const bytes of this.inFlight.values()) sum += bytes;
    return sum;
  }

  private emit(): void {
    this.bar?.update({ transferred: this.transferred, total: this.total, resumedFrom: 0 });
  }
}
