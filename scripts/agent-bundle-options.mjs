// The esbuild options of the agent's one-file CommonJS bundle, shared by the
// `rmm-agent` bin (scripts/bundle-agent.mjs) and the packaged single
// executable (scripts/package-agent.mjs), so both run the same program.
import { join } from "node:path";

/**
 * Minified, and without @grpc/proto-loader (with protobufjs and long, a
 * quarter of the bundle), which grpc-js requires only to serve its channelz
 * and ORCA admin services, never from a client: an idle agent holds less
 * source and compiled code (idle RSS 64.3 -> 60.1 MiB with
 * AGENT_NODE_OPTIONS, 1.6 -> 0.6 MB of JavaScript).
 *
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
    minify: true,
    external: ["@grpc/proto-loader"],
    define: { "import.meta.url": "__rmmBundleUrl" },
    banner: { js: `${banner}const __rmmBundleUrl = require("node:url").pathToFileURL(__filename).href;` },
    legalComments: "none",
    logLevel: "warning",
  };
}
