import type { JobStepSummary } from "../store/index.js";

/** What WatchJob streams after its snapshot; published only once the change is in the database. */
export type JobEvent = { type: "step"; step: JobStepSummary } | { type: "finished" };

/** Listeners per job. */
export class JobEvents {
  private readonly listeners = new Map<string, Set<(e: JobEvent) => void>>();

  subscribe(jobId: string, listener: (e: JobEvent) => void): () => void {
    let set = this.listeners.get(jobId);
    if (!set) this.listeners.set(jobId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(jobId);
    };
  }

  publish(jobId: string, event: JobEvent): void {
    for (const listener of this.listeners.get(jobId) ?? []) listener(event);
  }
}
