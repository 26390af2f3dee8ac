import { readFileSync } from "node:fs";

/**
 * The release of rmm, rmm-server and rmm-agent: the version in package.json,
 * so `--version` and the agent's reported version come from one place. Found
 * by walking up from this file, which sits one folder deeper in dist/.
 */
function readVersion(): string {
  for (const up of ["../package.json", "../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "rmm-tunnel" && pkg.version) return pkg.version;
    } catch {
      // Not at this depth: try the next one up.
    }
  }
  return "0.0.0-unknown";
}

export const RMM_VERSION = readVersion();
