import { execFile } from "node:child_process";
import { cpSync, existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

const SYSTEM_UNITS = "/usr/lib/systemd/system";

/** Whether `systemd-analyze verify` can check units here (it needs no booted systemd, only the binary and the system's units). */
export const canVerifyUnits = existsSync("/usr/bin/systemd-analyze") && existsSync(SYSTEM_UNITS);

/**
 * Runs `systemd-analyze verify --root=ROOT UNIT` on a unit installed under
 * `root`, with the system's own units copied in (its dependencies, such as
 * sysinit.target, must resolve inside the root). Never talks to a running
 * systemd. Resolves to what it printed: empty when the unit is clean, since
 * unknown keys and bad values are warnings, not failures.
 */
export async function verifyUnit(root: string, unitName: string): Promise<string> {
  if (!existsSync(join(root, SYSTEM_UNITS))) cpSync(SYSTEM_UNITS, join(root, SYSTEM_UNITS), { recursive: true });
  try {
    const { stdout, stderr } = await run("systemd-analyze", ["verify", `--root=${root}`, "--man=no", unitName]);
    return (stdout + stderr).trim();
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    return `failed: ${(stdout ?? "") + (stderr ?? "")}`.trim();
  }
}
