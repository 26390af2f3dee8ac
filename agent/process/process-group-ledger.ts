import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { uptime } from "node:os";
import type { Logger } from "../../common/logger.js";

/** File beside the agent's state file that lists the process groups of running commands and terminals. */
export const PROCESS_GROUPS_FILE = "process-groups.json";

interface LedgerFile {
  /** The boot the groups belong to: after a reboot the numbers mean other processes. */
  bootId: string;
  groups: number[];
}

/**
 * The process groups this agent started and has not seen end, kept on disk so that an agent that died
 * (`kill -9`, a crash, OOM) can end, at its next start, the trees its commands left running. The
 * parent-death signal ends each group's leader at once; its children (a shell's pipeline, a build's
 * compilers) are in the same group and are ended here.
 */
export class ProcessGroupLedger {
  private readonly groups = new Set<number>();
  /** A write of removals waiting for the next turn of the event loop. */
  private pending: NodeJS.Immediate | undefined;

  constructor(
    readonly path: string,
    private readonly log: Logger,
    private readonly bootId: string = currentBootId(),
  ) {}

  /**
   * Ends with SIGKILL every group a previous run of this agent left behind on this boot, then starts an
   * empty ledger. Returns the groups that still had members.
   */
  endLeftovers(): number[] {
    const left = this.read();
    const ended: number[] = [];
    if (left && left.bootId === this.bootId) {
      for (const pgid of left.groups) {
        if (killGroup(pgid)) ended.push(pgid);
      }
    }
    if (ended.length > 0)
      this.log.warn({ processGroups: ended }, "ended process groups a previous run of the agent left running");
    this.write();
    return ended;
  }

  /** Written at once: a group must be on disk before anything else can happen to the agent. */
  add(pgid: number): void {
    this.groups.add(pgid);
    this.write();
  }

  /**
   * Written on the next turn of the event loop, so the write and rename (about 2 ms, a third of an
   * exec's time on the agent in profiles) come after the command's exit frame has gone to the server
   * rather than before it; an `add` meanwhile writes it with its own. An agent killed in that moment
   * finds the group still listed and signals a group that no longer exists (ESRCH), as it would have
   * had it died just before the exit.
   */
  remove(pgid: number): void {
    if (this.groups.delete(pgid)) this.pending ??= setImmediate(() => this.write());
  }

  /** Writes a pending removal now (before the agent exits, and for tests that read the file). */
  flush(): void {
    if (this.pending) this.write();
  }

  private read(): LedgerFile | undefined {
    let raw: string;
    try {
      raw = readFileSync(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT")
        this.log.error({ err, path: this.path }, "could not read the process group ledger; leftovers are not ended");
      return undefined;
    }
    try {
      const parsed = JSON.parse(raw) as Partial<LedgerFile>;
      if (typeof parsed.bootId === "string" && Array.isArray(parsed.groups))
        return { bootId: parsed.bootId, groups: parsed.groups.filter((g) => Number.isInteger(g) && g > 1) };
    } catch (err) {
      this.log.warn({ err, path: this.path }, "process group ledger is not JSON; starting a new one");
    }
    return undefined;
  }

  /**
   * Written whole to a temporary file and renamed, so a crash mid-write leaves the previous list. A
   * failed write (a read-only or full disk) is logged, not thrown: it is called with a process already
   * started, which must keep its channel, and the parent-death signal still covers the leader.
   */
  private write(): void {
    clearImmediate(this.pending);
    this.pending = undefined;
    const body: LedgerFile = { bootId: this.bootId, groups: [...this.groups] };
    const tmp = `${this.path}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(body), { mode: 0o600 });
      renameSync(tmp, this.path);
    } catch (err) {
      this.log.error(
        { err, path: this.path },
        "could not record running process groups: a killed agent's leftovers will not be ended at its next start",
      );
    }
  }
}

/** Linux's id for this boot; elsewhere the boot time to the minute (uptime drifts by fractions of a second). */
function currentBootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return `boot-${Math.round((Date.now() / 1000 - uptime()) / 60)}`;
  }
}

/** SIGKILL to a whole group; false when no process is in it any more (ESRCH) or it is not ours (EPERM). */
function killGroup(pgid: number): boolean {
  try {
    process.kill(process.platform === "win32" ? pgid : -pgid, "SIGKILL");
    return true;
  } catch {
    return false;
  }
}
