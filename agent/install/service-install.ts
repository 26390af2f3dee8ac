import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { EXECUTABLE_NAME } from "./packaged-agent.js";
import { AGENT_UNIT_NAME, agentUnit, STATE_PATH } from "./systemd-unit.js";

export interface InstallPaths {
  /**
   * Prefixed to every path written (like DESTDIR): "/" for the real machine,
   * a directory to stage an image. systemctl is only ever run when it is "/".
   */
  root: string;
  /** Where the package is copied. */
  prefix: string;
  unitDir: string;
}

export interface InstallResult {
  executable: string;
  unitPath: string;
  unit: string;
  statePath: string;
  /** True when systemd took the unit (daemon-reload, enable --now); false: printed for the operator instead. */
  enabled: boolean;
  /** Why it was not enabled, for the operator. */
  note?: string;
}

/** systemd's own test (sd_booted): this directory exists only while systemd is PID 1. */
const SYSTEMD_RUNTIME_DIR = "/run/systemd/system";

export function systemdRunning(): boolean {
  return existsSync(SYSTEMD_RUNTIME_DIR);
}

function under(root: string, path: string): string {
  return root === "/" ? path : join(root, path);
}

/** Where install puts the state file (systemd's StateDirectory), under `root`. */
export function installedStatePath(root: string): string {
  return under(root, STATE_PATH);
}

/**
 * Copies the package into the prefix (through a sibling directory renamed
 * into place, so a failed copy leaves the previous install whole), writes the
 * unit, and enables it when systemd runs the machine.
 */
export function installService(packageDir: string, paths: InstallPaths, runArgs: readonly string[]): InstallResult {
  const prefix = under(paths.root, paths.prefix);
  if (resolve(packageDir) !== resolve(prefix)) {
    const staging = `${prefix}.installing-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    cpSync(packageDir, staging, { recursive: true, preserveTimestamps: true });
    rmSync(prefix, { recursive: true, force: true });
    renameSync(staging, prefix);
  }
  const executable = join(paths.prefix, EXECUTABLE_NAME);
  const unit = agentUnit({ executable, runArgs });
  const unitDir = under(paths.root, paths.unitDir);
  mkdirSync(unitDir, { recursive: true });
  const unitPath = join(unitDir, AGENT_UNIT_NAME);
  writeFileSync(unitPath, unit, { mode: 0o644 });
  const result = {
    executable: under(paths.root, executable),
    unitPath,
    unit,
    statePath: installedStatePath(paths.root),
  };
  if (paths.root !== "/")
    return { ...result, enabled: false, note: `staged under ${paths.root}: systemctl was not run` };
  if (!systemdRunning())
    return {
      ...result,
      enabled: false,
      note: `systemd is not running on this host (no ${SYSTEMD_RUNTIME_DIR}): the unit was written but not enabled; run \`${executable} run --state ${STATE_PATH}\` under your init system`,
    };
  systemctl(["daemon-reload"]);
  systemctl(["enable", "--now", AGENT_UNIT_NAME]);
  return { ...result, enabled: true };
}

/** Stops and disables the unit (when systemd runs), removes it and the package; `purge` also removes the state. */
export function uninstallService(paths: InstallPaths, purge: boolean): string[] {
  const removed: string[] = [];
  const unitPath = join(under(paths.root, paths.unitDir), AGENT_UNIT_NAME);
  if (paths.root === "/" && systemdRunning() && existsSync(unitPath)) systemctl(["disable", "--now", AGENT_UNIT_NAME]);
  const targets = [
    unitPath,
    under(paths.root, paths.prefix),
    ...(purge ? [under(paths.root, dirname(STATE_PATH))] : []),
  ];
  for (const target of targets) {
    if (!existsSync(target)) continue;
    rmSync(target, { recursive: true, force: true });
    removed.push(target);
  }
  if (paths.root === "/" && systemdRunning()) systemctl(["daemon-reload"]);
  return removed;
}

function systemctl(args: string[]): void {
  try {
    execFileSync("systemctl", args, { stdio: ["ignore", "inherit", "inherit"] });
  } catch (err) {
    throw new Error(`systemctl ${args.join(" ")} failed: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}
