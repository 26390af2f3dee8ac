/**
 * One upload at a time per partial file. A cancelled upload may still have
 * writes in flight when its retry arrives (the close and the new open travel
 * the same stream, but disk writes finish later); the retry waits for them,
 * so the offset it sees is final and the two never interleave.
 */
export class PartialLocks {
  private readonly tails = new Map<string, Promise<void>>();

  /** Resolves once `path` is free, with the function that frees it again. */
  async acquire(path: string): Promise<() => void> {
    const previous = this.tails.get(path) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(path, tail);
    await previous;
    return this.releaser(path, tail, release);
  }

  /** Takes `path` only if nobody holds or waits for it; undefined otherwise. For clean-ups that must not wait on, or disturb, a live upload. */
  tryAcquire(path: string): (() => void) | undefined {
    if (this.tails.has(path)) return undefined;
    let release!: () => void;
    const tail = new Promise<void>((resolve) => (release = resolve));
    this.tails.set(path, tail);
    return this.releaser(path, tail, release);
  }

  /** Waits until nobody holds `path` (for reading how much of it exists). */
  async settled(path: string): Promise<void> {
    (await this.acquire(path))();
  }

  /** Frees `path` once, whoever calls it how often; forgets the path when nobody waits behind. */
  private releaser(path: string, tail: Promise<void>, release: () => void): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
      if (this.tails.get(path) === tail) this.tails.delete(path);
    };
  }
}
