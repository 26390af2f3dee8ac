#!/usr/bin/env node
// The `rmm-agent` bin: scripts/bundle-agent.mjs bundles this file beside the
// agent's own bundle (agent.cjs), which it runs from V8's code cache.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCachedBundle } from "./run-cached-bundle.js";

const here = dirname(fileURLToPath(import.meta.url));
runCachedBundle(join(here, "agent.cjs"), join(here, "code-cache"));
