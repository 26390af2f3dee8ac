import { closeSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from "node:fs";
import { uptime } from "node:os";
import type { Logger } from "../../common/logger.js";

/** File beside the agent's state file that lists the process groups of running commands and terminals. */
export const PROCESS_GROUPS_FILE = "process-groups.json";

/**
 * Appended lines after which the file is rewritten as one snapshot. An agent that always has a
 * terminal open never reaches an empty set, so the log is bounded by count rather than by emptiness;
 * at about 8 bytes a line that is some 8 KiB, and one rewrite per ~500 commands.
 */
const COMPACT_AFTER_LINES = 1_000;

export interface LedgerFile {
  /** The boot the groups belong to: after a reboot the numbers mean other processes. */
  bootId: string;
  groups: number[];
}

/**
 * The process groups this agent started and has not seen end, kept on disk so that an agent that died
 * (`kill -9`, a crash, OOM) can end, at its next start, the trees its commands left running. The
 * parent-death signal ends each group's leader at once; its children (a shell's pipeline, a build's
 * compilers) are in the same group and are ended here.
 *
 * The file is a snapshot line (`{"bootId":…,"groups":[…]}`, what earlier agents wrote whole) followed
 * by one `+PGID` or `-PGID` line per change, appended with a single write to a held descriptor. Each
 * change is in the kernel before `add` or `remove` returns, so it survives the agent being killed at
 * any point after; rewriting the whole file and renaming it over the old one cost about 1 ms of the
 * agent's thread each time on ext4 (the rename flushes the new file's data), twice per command, where
 * an append costs microseconds.
 */
export class ProcessGroupLedger {
  private readonly groups = new Set<number>();
  private fd: number | undefined;
  private appended = 0;

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
    const left = readLedger(this.path, this.log);
    const ended: number[] = [];
    if (left && left.bootId === this.bootId) {
      for (const pgid of left.groups) {
        if (killGroup(pgid)) ended.push(pgid);
      }
    }
    if (ended.length > 0)
      this.log.warn({ processGroups: ended }, "ended process groups a previous run of the agent left running");
    this.compact();
    return ended;
  }

  /** Written at once: a group must be on disk before anything else can happen to the agent. */
  add(pgid: number): void {
    this.groups.add(pgid);
    this.append(`+${pgid}\n`);
  }

  /** Its leader exited. Written at once too: an append is cheap enough to precede the exit frame. */
  remove(pgid: number): void {
    if (this.groups.delete(pgid)) this.append(`-${pgid}\n`);
  }

  /** Closes the file (the agent is exiting); a later change opens it again. */
  close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // Nothing is buffered in user space: every change was already written.
    }
    this.fd = undefined;
  }

  private append(line: string): void {
    if (this.fd === undefined || this.appended >= COMPACT_AFTER_LINES) {
      this.compact();
      return;
    }
    try {
      writeSync(this.fd, line);
      this.appended++;
    } catch (err) {
      this.failed(err);
      // Try a whole rewrite at the next change: it may succeed where the append did not.
      this.close();
    }
  }

  /**
   * The current set as a new snapshot, written whole to a temporary file and renamed, so a crash
   * mid-write leaves the previous file; then held open for appends. A failed write (a read-only or
   * full disk) is logged, not thrown: it is called with a process already started, which must keep its
   * channel, and the parent-death signal still covers the leader.
   */
  private compact(): void {
    this.close();
    const body: LedgerFile = { bootId: this.bootId, groups: [...this.groups] };
    const tmp = `${this.path}.tmp`;
    try {
      writeFileSync(tmp, `${JSON.stringify(body)}\n`, { mode: 0o600 });
      renameSync(tmp, this.path);
      this.fd = openSync(this.path, "a");
      this.appended = 0;
    } catch (err) {
      this.failed(err);
    }
  }

  private failed(err: unknown): void {
    this.log.error(
      { err, path: this.path },
      "could not record running process groups: a killed agent's leftovers will not be ended at its next start",
    );
  }
}

/**
 * The groups a ledger file lists: its snapshot line with the changes after it applied. A last line
 * without its newline (a write cut short) is skipped. Undefined when there is no file or its snapshot
 * is unreadable.
 */
export function readLedger(path: string, log?: Logger): LedgerFile | undefined {
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT")
      log?.error({ err, path }, "could not read the process group ledger; leftovers are not ended");
    return undefined;
  }
  const lines = raw.split("\n");
  const head = lines[0] ?? "";
  // Only whole lines: what follows the last newline is empty, or a write cut short.
  const changes = lines.slice(1, -1);
  let snapshot: Partial<LedgerFile>;
  try {
    snapshot = JSON.parse(head) as Partial<LedgerFile>;
  } catch (err) {
    log?.warn({ err, path }, "process group ledger is not JSON; starting a new one");
    return undefined;
  }
  if (typeof snapshot.bootId !== "string" || !Array.isArray(snapshot.groups)) return undefined;
  const groups = new Set(snapshot.groups.filter(isGroupId));
  for (const line of changes) {
    const pgid = Number(line.slice(1));
    if (!isGroupId(pgid)) continue;
    if (line[0] === "+") groups.add(pgid);
    else if (line[0] === "-") groups.delete(pgid);
  }
  return { bootId: snapshot.bootId, groups: [...groups] };
}

function isGroupId(g: unknown): g is number {
  return Number.isInteger(g) && (g as number) > 1;
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
