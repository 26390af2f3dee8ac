/**
 * A single-consumer async queue: producers push without waiting, the consumer
 * iterates. Ending it lets the consumer drain what was queued and then finish,
 * or throw the given error. Callers bound what they push (tunnel data is
 * bounded by channel credit), so the queue itself does not.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiter: ((r: IteratorResult<T>) => void) | undefined;
  private failWaiter: ((err: unknown) => void) | undefined;
  private done = false;
  private error: unknown;

  get size(): number {
    return this.items.length;
  }

  get ended(): boolean {
    return this.done;
  }

  /**
   * The newest item still waiting for the consumer, or undefined when none
   * is. Lets a producer merge into it rather than queue another item; once
   * the consumer has taken an item it is no longer returned here.
   */
  last(): T | undefined {
    return this.items[this.items.length - 1];
  }

  /** False once the queue has ended: the item was not queued. */
  push(item: T): boolean {
    if (this.done) return false;
    if (this.waiter) {
      const resolve = this.waiter;
      this.waiter = this.failWaiter = undefined;
      resolve({ value: item, done: false });
    } else {
      this.items.push(item);
    }
    return true;
  }

  /** Ends the queue; with an error the consumer throws it after draining. */
  end(error?: unknown): void {
    if (this.done) return;
    this.done = true;
    this.error = error;
    if (this.waiter) {
      const resolve = this.waiter;
      const reject = this.failWaiter;
      this.waiter = this.failWaiter = undefined;
      if (error !== undefined) reject?.(error);
      else resolve({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        const item = this.items.shift();
        if (item !== undefined) return Promise.resolve({ value: item, done: false });
        if (this.done) {
          return this.error !== undefined
            ? Promise.reject(this.error)
            : Promise.resolve({ value: undefined, done: true });
        }
        return new Promise<IteratorResult<T>>((resolve, reject) => {
          this.waiter = resolve;
          this.failWaiter = reject;
        });
      },
      return: () => {
        this.end();
        this.items.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
      // Consumers such as connect's stream writers call throw() to abandon an
      // iterable on error; the queue then ends and drops what it held.
      throw: (err?: unknown) => {
        this.end(err);
        this.items.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
