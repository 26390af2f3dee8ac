import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { DEFAULT_CHANNELS } from "../agent/agent.js";
import { newAgentCredential } from "../server/auth/agent-credential.js";
import { migrateToLatest, openDatabase, parseDatabaseUrl } from "../server/store/index.js";
import { ManagedProcess } from "../testkit/managed-process.js";

/**
 * Simulated agents per load-generator process. Each holds one socket, and a
 * process here may hold at most 20,000 descriptors, so 5,000 leaves headroom.
 */
export const AGENTS_PER_GENERATOR = 5_000;
/**
 * Generator i's connections leave from 127.0.0.(FIRST_SOURCE_HOST + i): each
 * generator has the ephemeral ports of a source address of its own towards
 * the server's one port (about 28,000 here, shared with the sockets a storm
 * leaves in TIME_WAIT).
 */
const FIRST_SOURCE_HOST = 2;
/** Rows per INSERT when enrolling a fleet straight into the store. */
const INSERT_CHUNK = 500;
const LOAD_GENERATOR = resolve("dist/bench/load-generator.js");

/** A fleet of enrolled simulated agents and the processes that run them. */
export class Fleet {
  private generators: ManagedProcess[] = [];

  private constructor(
    readonly size: number,
    private readonly identitiesFile: string,
  ) {}

  /** Enrolls `size` agents directly in the store (enrolling through the API would time the JWT checks, not the fleet). */
  static async enroll(databaseUrl: string, size: number, identitiesFile: string): Promise<Fleet> {
    const db = openDatabase(parseDatabaseUrl(databaseUrl));
    try {
      await migrateToLatest(db);
      const lines: string[] = [];
      for (let i = 0; i < size; i += INSERT_CHUNK) {
        const rows = Array.from({ length: Math.min(INSERT_CHUNK, size - i) }, () => {
          const id = randomUUID();
          const { credential, hash } = newAgentCredential(id);
          lines.push(JSON.stringify({ agentId: id, credential }));
          return {
            id,
            hostname: `sim-${id.slice(0, 8)}`,
            os: "linux x64",
            agent_version: "bench",
            // What the simulated agents report in hello: a connect that finds the stored info unchanged writes nothing.
            capabilities: JSON.stringify([...DEFAULT_CHANNELS.keys()]),
            credential_hash: hash,
            enrolled_at: Date.now(),
            last_seen_at: null,
            revoked_at: null,
          };
        });
        await db.insertInto("agents").values(rows).execute();
      }
      writeFileSync(identitiesFile, lines.join("\n") + "\n");
    } finally {
      await db.destroy();
    }
    return new Fleet(size, identitiesFile);
  }

  /** Starts the load generators; agents connect as fast as they start. */
  start(serverUrl: string): void {
    for (let from = 0; from < this.size; from += AGENTS_PER_GENERATOR) {
      const count = Math.min(AGENTS_PER_GENERATOR, this.size - from);
      const source = `127.0.0.${FIRST_SOURCE_HOST + from / AGENTS_PER_GENERATOR}`;
      this.generators.push(
        new ManagedProcess(
          LOAD_GENERATOR,
          [
            "--server",
            serverUrl,
            "--identities",
            this.identitiesFile,
            "--from",
            String(from),
            "--count",
            String(count),
            "--local-address",
            source,
          ],
          {
            nodeArgs: ["--max-old-space-size=4096"],
          },
        ),
      );
    }
  }

  /** Agents in heartbeat or tunnel mode, as the generators last reported. */
  online(): number {
    return this.generators.reduce((sum, g) => {
      const last = g.logs.findLast((e) => e.msg === "online");
      return sum + (typeof last?.online === "number" ? last.online : 0);
    }, 0);
  }

  /** The commonest reasons agents are waiting to reconnect, summed over the generators' last reports. */
  waiting(): string {
    const sum = new Map<string, number>();
    for (const g of this.generators) {
      const backoff = g.logs.findLast((e) => e.msg === "online")?.backoff;
      if (backoff && typeof backoff === "object")
        for (const [reason, n] of Object.entries(backoff)) sum.set(reason, (sum.get(reason) ?? 0) + Number(n));
    }
    return [...sum]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([reason, n]) => `${n} ${reason}`)
      .join("; ");
  }

  /** Waits until at least `count` agents are online; returns the milliseconds it took, reporting progress. */
  async waitOnline(count: number, timeoutMs: number, progress: (msg: string) => void): Promise<number> {
    const started = performance.now();
    let lastReport = 0;
    for (;;) {
      const online = this.online();
      const elapsed = performance.now() - started;
      if (online >= count) return elapsed;
      if (elapsed > timeoutMs)
        throw new Error(`only ${online} of ${count} agents online after ${Math.round(timeoutMs / 1000)} s`);
      if (elapsed - lastReport > 2_000) {
        const waiting = this.waiting();
        progress(
          `${online}/${count} agents online after ${(elapsed / 1000).toFixed(1)} s${waiting ? ` (backing off: ${waiting})` : ""}`,
        );
        lastReport = elapsed;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.generators.map((g) => g.stop()));
    this.generators = [];
  }
}
