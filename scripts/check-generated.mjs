#!/usr/bin/env node
// Fails when gen/ is not exactly what `buf generate` writes from proto/ now.
//
// Runs `buf generate --output <tmp>` (buf.gen.yaml writes to `gen` with
// `clean: true`, so the fresh tree lands in <tmp>/gen) and compares file sets
// and bytes with gen/. The working tree is never written to.
//
// Usage: node scripts/check-generated.mjs   (npm run check:gen)
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const binDir = join(root, "node_modules", ".bin");
const buf = join(binDir, "buf");
const genDir = join(root, "gen");

/** All regular files under `dir`, as sorted `/`-separated paths relative to it. */
function listFiles(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.push(relative(dir, full).split(sep).join("/"));
    }
  };
  walk(dir);
  return out.sort();
}

/** Thrown for a failed check; the message is printed without a stack. */
class CheckFailed extends Error {}

function fail(message) {
  throw new CheckFailed(message);
}

function check(tmp) {
  const result = spawnSync(buf, ["generate", "--output", tmp], {
    cwd: root,
    encoding: "utf8",
    // buf.gen.yaml names the plugin `local: protoc-gen-es`, which buf looks up
    // on PATH; npm scripts put node_modules/.bin there, a bare `node` does not.
    env: { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH ?? ""}` },
  });
  if (result.error) fail(`could not run buf: ${result.error.message}`);
  if (result.status !== 0) {
    fail(`\`buf generate\` failed (exit ${result.status}):\n${result.stderr}${result.stdout}`);
  }

  const freshDir = join(tmp, "gen");
  const fresh = listFiles(freshDir);
  const current = listFiles(genDir);
  if (fresh.length === 0)
    fail(`\`buf generate\` wrote nothing under ${freshDir}; is buf.gen.yaml's out still \`gen\`?`);

  const currentSet = new Set(current);
  const freshSet = new Set(fresh);
  const stale = [
    ...fresh.filter((f) => !currentSet.has(f)).map((f) => `missing   gen/${f} (buf generates it)`),
    ...current.filter((f) => !freshSet.has(f)).map((f) => `extra     gen/${f} (buf no longer generates it)`),
    ...fresh
      .filter((f) => currentSet.has(f))
      .filter((f) => !readFileSync(join(freshDir, f)).equals(readFileSync(join(genDir, f))))
      .map((f) => `differs   gen/${f}`),
  ];

  if (stale.length > 0) {
    fail(
      `gen/ is out of date with proto/ (${stale.length} file(s)):\n` +
        stale.map((line) => `  ${line}`).join("\n") +
        "\nRun `npm run generate` and commit the result; never edit gen/ by hand.",
    );
  }
  return fresh.length;
}

const tmp = mkdtempSync(join(tmpdir(), "rmm-gen-check-"));
try {
  if (!existsSync(buf)) fail(`${relative(root, buf)} not found; run \`npm ci\` first`);
  const count = check(tmp);
  console.log(`check-generated: gen/ is up to date (${count} files)`);
} catch (err) {
  if (!(err instanceof CheckFailed)) throw err;
  console.error(`check-generated: ${err.message}`);
  process.exitCode = 1;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
