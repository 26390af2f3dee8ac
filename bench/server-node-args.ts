import { resolve } from "node:path";

/**
 * Node flags for every rmm-server process the bench starts, matching what
 * the README recommends for deployment (`NODE_OPTIONS=--max-semi-space-size=2`)
 * and what `npm start` uses. A 2 MiB young generation (V8 grows it up to 16
 * MiB under load) keeps the server's resident memory down; idle agents
 * allocate little, so the extra scavenges cost nothing measurable. The bare
 * baselines run with Node's defaults.
 *
 * With `cpuProfDir`, each server also writes a V8 CPU profile there when it
 * exits (open it in Chrome DevTools or speedscope).
 */
export function serverNodeArgs(cpuProfDir?: string): string[] {
  return ["--max-semi-space-size=2", ...(cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${resolve(cpuProfDir)}`] : [])];
}
