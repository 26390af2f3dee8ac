#!/usr/bin/env node
// Bundles the agent into dist/rmm-agent/: agent.cjs, the whole agent in one
// CommonJS file (the same build the packaged single executable carries), and
// rmm-agent.cjs, the `rmm-agent` bin, which runs agent.cjs from V8's code
// cache (agent/bundle/run-cached-bundle.ts). dist/agent/main.js (tsc's
// output) is the same program file by file.
//
//   node scripts/bundle-agent.mjs
//
// Why: node resolves, reads and compiles each of the ~250 files the agent
// loads on its own, and parses the bundle's 1.5 MB each start without a cache.
import { chmodSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { build } from "esbuild";
import { agentBundleOptions } from "./agent-bundle-options.mjs";

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const out = join(root, "dist", "rmm-agent");
// A rebuilt bundle starts with no cache (each is keyed by its bundle's CRC too, so this only saves the disk).
rmSync(out, { recursive: true, force: true });
await build(agentBundleOptions(root, join(out, "agent.cjs")));
await build({
  ...agentBundleOptions(root, join(out, "rmm-agent.cjs")),
  entryPoints: [join(root, "agent", "bundle", "main.ts")],
});
chmodSync(join(out, "rmm-agent.cjs"), 0o755);
