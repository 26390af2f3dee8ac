import { sql } from "kysely";
import type { Db } from "../store/index.js";
import { pendingMigrations } from "../store/index.js";
import type { HealthStatus } from "../health/health-status.js";
import { ServingStatus } from "../health/health-status.js";

/**
 * One thing the server needs before it can serve: the database now, NATS when
 * a cluster exists (a check named "nats" slots in beside it). `check` throws
 * an error whose message says what is wrong.
 */
export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Array<{ name: string; ok: boolean; error?: string }>;
}

/** A check that hangs (a database behind a dropped route) counts as failed after this. Defaults to 2 s. */
export const READINESS_CHECK_TIMEOUT_MS = 2_000;
/** How often readiness is re-evaluated for grpc.health.v1 watchers. Defaults to 5 s. */
export const READINESS_INTERVAL_MS = 5_000;

/** The database answers and has every migration this build knows. */
export function databaseReadiness(db: Db): ReadinessCheck {
  return {
    name: "database",
    async check() {
      await sql`select 1`.execute(db);
      const pending = await pendingMigrations(db);
      if (pending.length > 0) throw new Error(`migrations not applied: ${pending.join(", ")}`);
    },
  };
}

/**
 * Runs the checks for /readyz and, every interval, mirrors the result into
 * grpc.health.v1, so a load balancer probing either sees the same answer.
 */
export class Readiness {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly checks: readonly ReadinessCheck[],
    private readonly health: HealthStatus,
    private readonly services: readonly string[],
    private readonly opts: { intervalMs?: number; timeoutMs?: number } = {},
  ) {}

  async report(): Promise<ReadinessReport> {
    const timeoutMs = this.opts.timeoutMs ?? READINESS_CHECK_TIMEOUT_MS;
    const checks = await Promise.all(
      this.checks.map(async ({ name, check }) => {
        try {
          await withTimeout(check(), timeoutMs, name);
          return { name, ok: true };
        } catch (err) {
          return { name, ok: false, error: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
    const ready = checks.every((c) => c.ok);
    if (!this.stopped) this.mirror(ready);
    return { ready, checks };
  }

  start(): void {
    const tick = () => {
      void this.report().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.opts.intervalMs ?? READINESS_INTERVAL_MS).unref();
      });
    };
    this.timer = setTimeout(tick, this.opts.intervalMs ?? READINESS_INTERVAL_MS).unref();
  }

  /** Stops mirroring; shutdown owns the health status from here on. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private mirror(ready: boolean): void {
    const status = ready ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    for (const service of this.services) this.health.set(service, status);
  }
}

function withTimeout(promise: Promise<void>, ms: number, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} check timed out after ${ms} ms`)), ms);
    promise.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}
