import { HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";

export { ServingStatus };

/**
 * Serving status per service name ("" is the whole server), as the gRPC
 * health protocol reports it. Watchers see the current status and then each
 * change; a slow watcher only ever gets the latest, so nothing queues up.
 */
export class HealthStatus {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<() => void>>();

  set(service: string, status: ServingStatus): void {
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    for (const wake of this.watchers.get(service) ?? []) wake();
  }

  /** Undefined for a service this server does not know. */
  get(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  entries(): IterableIterator<[string, ServingStatus]> {
    return this.statuses.entries();
  }

  /** Marks every known service NOT_SERVING, so load balancers drain before the port closes. */
  shutdown(): void {
    for (const service of this.statuses.keys()) this.set(service, ServingStatus.NOT_SERVING);
  }

  /** The status now (SERVICE_UNKNOWN for an unknown service), then every change, until the signal aborts. */
  async *watch(service: string, signal: AbortSignal): AsyncGenerator<ServingStatus> {
    let changed = false;
    let wake: (() => void) | undefined;
    const listener = () => {
      changed = true;
      wake?.();
    };
    const set = this.watchers.get(service) ?? new Set();
    set.add(listener);
    this.watchers.set(service, set);
    const onAbort = () => wake?.();
    signal.addEventListener("abort", onAbort);
    try {
      let last: ServingStatus | undefined;
      while (!signal.aborted) {
        const now = this.statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN;
        if (now !== last) {
          last = now;
          yield now;
        }
        if (!changed) await new Promise<void>((resolve) => (wake = resolve));
        changed = false;
      }
    } finally {
      set.delete(listener);
      signal.removeEventListener("abort", onAbort);
    }
  }
}
