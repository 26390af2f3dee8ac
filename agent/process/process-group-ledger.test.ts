import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../common/logger.js";
import { ProcessGroupLedger, readLedger } from "./process-group-ledger.js";

const log = createLogger("test", "silent");

describe.runIf(process.platform !== "win32")("ProcessGroupLedger", () => {
  const dirs: string[] = [];
  const started: number[] = [];
  const ledgerPath = () => {
    const dir = mkdtempSync(join(tmpdir(), "rmm-ledger-"));
    dirs.push(dir);
    return join(dir, "process-groups.json");
  };
  /** A process leading its own group, as spawnTree starts them. */
  const groupLeader = () => {
    const child = spawn("sleep", ["60"], { detached: true, stdio: "ignore" });
    started.push(child.pid!);
    return child;
  };
  afterEach(() => {
    for (const pid of started.splice(0)) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // Already ended by the test.
      }
    }
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("records groups while they run, and a later run on the same boot ends those left over", async () => {
    const path = ledgerPath();
    const first = new ProcessGroupLedger(path, log, "boot-a");
    first.endLeftovers();
    const leftover = groupLeader();
    const finished = groupLeader();
    first.add(leftover.pid!);
    first.add(finished.pid!);
    first.remove(finished.pid!);
    expect(readLedger(path)).toEqual({ bootId: "boot-a", groups: [leftover.pid] });

    const exited = new Promise((resolve) => leftover.once("exit", (_code, signal) => resolve(signal)));
    expect(new ProcessGroupLedger(path, log, "boot-a").endLeftovers()).toEqual([leftover.pid]);
    expect(await exited).toBe("SIGKILL");
    expect(readLedger(path)?.groups).toEqual([]);
    // The group no longer recorded is untouched: our SIGTERM is what ends it.
    const finishedExit = new Promise((resolve) => finished.once("exit", (_code, signal) => resolve(signal)));
    process.kill(finished.pid!, "SIGTERM");
    expect(await finishedExit).toBe("SIGTERM");
  });

  it("has every change on disk when add and remove return, and stays bounded over many commands", () => {
    const path = ledgerPath();
    const ledger = new ProcessGroupLedger(path, log, "boot-a");
    ledger.endLeftovers();
    const a = groupLeader();
    const b = groupLeader();
    ledger.add(a.pid!);
    expect(readLedger(path)?.groups).toEqual([a.pid]);
    ledger.add(b.pid!);
    ledger.remove(a.pid!);
    expect(readLedger(path)?.groups).toEqual([b.pid]);
    const sizeWithOne = readFileSync(path).length;
    // Far more changes than the file keeps as lines: it is rewritten as a snapshot along the way.
    for (let pgid = 100_000; pgid < 103_000; pgid++) {
      ledger.add(pgid);
      ledger.remove(pgid);
    }
    expect(readLedger(path)?.groups).toEqual([b.pid]);
    expect(readFileSync(path).length).toBeLessThan(sizeWithOne + 20_000);
    ledger.close();
    expect(new ProcessGroupLedger(path, log, "boot-a").endLeftovers()).toEqual([b.pid]);
  });

  it("reads a file an earlier agent wrote whole, and skips a torn last line", () => {
    const path = ledgerPath();
    writeFileSync(path, JSON.stringify({ bootId: "boot-a", groups: [4242] }));
    expect(readLedger(path)).toEqual({ bootId: "boot-a", groups: [4242] });
    writeFileSync(path, `${JSON.stringify({ bootId: "boot-a", groups: [4242] })}\n+5000\n-4242\n+60`);
    expect(readLedger(path)).toEqual({ bootId: "boot-a", groups: [5000] });
    writeFileSync(path, `${JSON.stringify({ bootId: "boot-a", groups: [] })}\n+5000\n-`);
    expect(readLedger(path)).toEqual({ bootId: "boot-a", groups: [5000] });
  });

  it("leaves alone groups recorded on another boot, where the numbers name other processes, and a corrupt file", async () => {
    const path = ledgerPath();
    const other = groupLeader();
    writeFileSync(path, JSON.stringify({ bootId: "boot-old", groups: [other.pid] }));
    expect(new ProcessGroupLedger(path, log, "boot-new").endLeftovers()).toEqual([]);
    writeFileSync(path, "{not json");
    expect(new ProcessGroupLedger(path, log, "boot-new").endLeftovers()).toEqual([]);
    // Still running: our SIGTERM is what ends it, not a SIGKILL from the ledger.
    const exited = new Promise((resolve) => other.once("exit", (_code, signal) => resolve(signal)));
    process.kill(other.pid!, "SIGTERM");
    expect(await exited).toBe("SIGTERM");
    expect(readLedger(path)).toEqual({ bootId: "boot-new", groups: [] });
  });
});
