/** Keys per statement: an IN list of a few hundred ids, a few dozen KiB of SQL. */
export const LOOKUP_BATCH_MAX = 500;
/** Batches in flight at once, well under the MySQL pool's connections so other statements still get one. */
const LOOKUP_IN_FLIGHT_MAX = 2;

/**
 * Lookups by key answered in batches: keys asked for while earlier batches
 * are under way (or in the same turn of the event loop) share one statement.
 * A quiet server pays one turn of the event loop; in a connect storm the
 * thousands of one-row SELECTs a second, each a round trip queued in the
 * pool, become a few statements of hundreds of rows.
 */
export class BatchedLookup<K, V> {
  private waiting = new Map<K, Array<{ resolve: (v: V | undefined) => void; reject: (err: unknown) => void }>>();
  private inFlight = 0;
  private scheduled = false;

  /** `fetch` answers for the keys it can; keys left out resolve as undefined. */
  constructor(private readonly fetch: (keys: K[]) => Promise<Map<K, V>>) {}

  get(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const list = this.waiting.get(key);
      if (list) list.push({ resolve, reject });
      else this.waiting.set(key, [{ resolve, reject }]);
      if (this.inFlight < LOOKUP_IN_FLIGHT_MAX && !this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.next();
        });
      }
    });
  }

  private next(): void {
    while (this.inFlight < LOOKUP_IN_FLIGHT_MAX && this.waiting.size > 0) {
      const batch = new Map<K, Array<{ resolve: (v: V | undefined) => void; reject: (err: unknown) => void }>>();
      for (const [k, list] of this.waiting) {
        if (batch.size >= LOOKUP_BATCH_MAX) break;
        batch.set(k, list);
      }
      for (const k of batch.keys()) this.waiting.delete(k);
      this.inFlight++;
      this.fetch([...batch.keys()])
        .then(
          (found) => {
            for (const [k, list] of batch) for (const w of list) w.resolve(found.get(k));
          },
          (err: unknown) => {
            for (const list of batch.values()) for (const w of list) w.reject(err);
          },
        )
        .finally(() => {
          this.inFlight--;
          this.next();
        });
    }
  }
}
