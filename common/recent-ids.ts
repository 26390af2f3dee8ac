/**
 * Ended channel ids remembered per session, on the server and on the agent,
 * so frames the other side sent before it saw the end are dropped quietly
 * instead of answered with a NotFound close. 64: far more than can be in
 * flight at once, and a few hundred bytes per session.
 */
export const RECENTLY_ENDED_KEPT = 64;

/** The last `capacity` ids added, oldest forgotten first. */
export class RecentIds {
  private readonly ids = new Set<number>();

  /** `capacity`: how many ids are kept (at least 1). */
  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`RecentIds capacity must be a positive integer, got ${capacity}`);
  }

  add(id: number): void {
    // Re-adding makes an id the newest, so it is not the next one forgotten.
    this.ids.delete(id);
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value!);
  }

  has(id: number): boolean {
    return this.ids.has(id);
  }

  get size(): number {
    return this.ids.size;
  }
}
