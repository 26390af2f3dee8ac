// The esbuild options of the agent's one-file CommonJS bundle, shared by the
// `rmm-agent` bin (scripts/bundle-agent.mjs) and the packaged single
// executable (scripts/package-agent.mjs), so both run the same program.
import { join } from "node:path";

/**
 * `import.meta.url` (common/version.ts finds package.json from it) is the
 * bundle file's URL, as it is for each tsc-compiled module; `banner` may
 * prepend more (the packaged agent's require).
 */
export function agentBundleOptions(root, outfile, banner = "") {
  return {
    entryPoints: [join(root, "agent", "main.ts")],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    outfile,
    define: { "import.meta.url": "__rmmBundleUrl" },
    banner: { js: `${banner}const __rmmBundleUrl = require("node:url").pathToFileURL(__filename).href;` },
    legalComments: "none",
    logLevel: "warning",
  };
}
