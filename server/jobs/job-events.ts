import type { JobStepSummary } from "../store/index.js";

/** What WatchJob streams after its snapshot; published only once the change is in the database. */
export type JobEvent = { type: "step"; step: JobStepSummary } | { type: "finished" };

/** Listeners per job. */
export class JobEvents {
  private readonly listeners = new Map<string, Set<(e: JobEvent) => void>>();
  /**
   * Hears every event this server publishes (not those delivered from other
   * nodes): in cluster mode, the bridge that passes them on to the other nodes.
   */
  relay: ((jobId: string, event: JobEvent) => void) | undefined;

  subscribe(jobId: string, listener: (e: JobEvent) => void): () => void {
    let set = this.listeners.get(jobId);
    if (!set) this.listeners.set(jobId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(jobId);
    };
  }

  /** A change this server stored: its watchers hear it, and so do other nodes' through the relay. */
  publish(jobId: string, event: JobEvent): void {
    this.deliver(jobId, event);
    this.relay?.(jobId, event);
  }

  /** A change another node stored: only this server's watchers hear it. */
  deliver(jobId: string, event: JobEvent): void {
    for (const listener of this.listeners.get(jobId) ?? []) listener(event);
  }
}
