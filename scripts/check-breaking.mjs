#!/usr/bin/env node
// Fails when proto/ has a breaking change (buf.yaml's `breaking` rules, FILE)
// against the previous commit:
//
//   buf breaking proto --against '.git#ref=<sha of HEAD~1>,subdir=proto'
//
// Skips (exit 0, saying why) when there is nothing to compare against: no
// .git (a tarball), no git binary, no commit yet, HEAD is the first commit,
// a shallow clone without HEAD~1 (CI: fetch at least 2 commits), or a previous
// commit without proto/.
//
// HEAD~1 is resolved to a SHA here, so the skip decision and buf see the same
// commit. buf clones the local .git itself (it also copes with a worktree's
// `.git` file and with a shallow clone that contains HEAD~1).
//
// Usage: node scripts/check-breaking.mjs   (npm run check:breaking)
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const buf = join(root, "node_modules", ".bin", "buf");
const PROTO_DIR = "proto";
/** buf's exit status when it reports file annotations: rule violations or compile errors. */
const BUF_EXIT_ANNOTATIONS = 100;

function skip(reason) {
  console.log(`check-breaking: skipped: ${reason}`);
  process.exit(0);
}

function fail(message) {
  console.error(`check-breaking: ${message}`);
  process.exit(1);
}

/** Runs git in the repo root; returns trimmed stdout, or undefined when git fails. */
function git(...args) {
  const r = spawnSync("git", args, { cwd: root, encoding: "utf8" });
  if (r.error) {
    if (r.error.code === "ENOENT") skip("git is not installed");
    throw r.error;
  }
  return r.status === 0 ? r.stdout.trim() : undefined;
}

if (!existsSync(buf)) fail(`${relative(root, buf)} not found; run \`npm ci\` first`);
// Checked at the root itself: an unpacked tarball inside some other git repo
// must not be compared with that repo's history.
if (!existsSync(join(root, ".git"))) skip("no .git in the repo root (not a git checkout, e.g. a tarball)");
if (git("rev-parse", "--verify", "--quiet", "HEAD^{commit}") === undefined) skip("no commit yet");

const previous = git("rev-parse", "--verify", "--quiet", "HEAD~1^{commit}");
if (previous === undefined) {
  if (git("rev-parse", "--is-shallow-repository") === "true") {
    skip("shallow clone without HEAD~1 (fetch at least 2 commits, e.g. actions/checkout fetch-depth: 2)");
  }
  skip("HEAD is the first commit; nothing to compare against");
}
const short = previous.slice(0, 12);
if (git("cat-file", "-e", `${previous}:${PROTO_DIR}`) === undefined) {
  skip(`the previous commit ${short} has no ${PROTO_DIR}/`);
}

const against = `.git#ref=${previous},subdir=${PROTO_DIR}`;
// JSON, because buf exits 100 both for rule violations and for files that do
// not compile (type "COMPILE"), and the two need different messages.
const result = spawnSync(buf, ["breaking", PROTO_DIR, "--against", against, "--error-format=json"], {
  cwd: root,
  encoding: "utf8",
});
if (result.error) fail(`could not run buf: ${result.error.message}`);
if (result.status === 0) {
  console.log(`check-breaking: no breaking changes in ${PROTO_DIR}/ against the previous commit ${short}`);
  process.exit(0);
}

/** One annotation from `--error-format=json`, or a raw line buf printed otherwise. */
function parseLine(line) {
  try {
    const a = JSON.parse(line);
    return { type: a.type, text: `${a.path}:${a.start_line}:${a.start_column}: ${a.message} (${a.type})` };
  } catch {
    return { type: undefined, text: line }; // not JSON: a plain error message from buf
  }
}
const lines = `${result.stdout}\n${result.stderr}`
  .split("\n")
  .filter((l) => l.trim() !== "")
  .map(parseLine);
const report = lines.map((l) => `  ${l.text}`).join("\n");
const compileErrors = lines.some((l) => l.type === "COMPILE");

if (result.status === BUF_EXIT_ANNOTATIONS && !compileErrors) {
  fail(
    `breaking changes in ${PROTO_DIR}/ against the previous commit ${short}:\n${report}\n` +
      "Keep the wire contract compatible (add fields and RPCs, reserve removed numbers and names), " +
      "or version the package (rmm.v2).",
  );
}
if (compileErrors) fail(`buf could not compile ${PROTO_DIR}/ (now or at ${short}):\n${report}`);
fail(`\`buf breaking\` failed (exit ${result.status}) against ${against}:\n${report}`);
