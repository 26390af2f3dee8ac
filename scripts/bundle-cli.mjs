#!/usr/bin/env node
// Bundles the rmm CLI into dist/rmm/: rmm.js plus one chunk per command's own
// code (esbuild's splitting keeps cli/command-table.ts's dynamic imports
// lazy). The `rmm` bin runs this bundle; dist/cli/main.js (tsc's output) is
// the same program file by file.
//
//   node scripts/bundle-cli.mjs
//
// Why: Node resolves, reads and compiles every ES module file on its own. `rmm
// exec` loads about 190 of them (connect, protobuf, the generated schemas);
// as a dozen chunks it ran 31% fewer instructions under callgrind
// (1.34 G -> 0.92 G to the first RPC; bare `node -e 0` is 0.50 G), and
// `rmm --version` loads one small chunk and commander.
import { chmodSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { build } from "esbuild";

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const out = join(root, "dist", "rmm");
rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: { rmm: join(root, "cli", "main.ts") },
  bundle: true,
  splitting: true,
  platform: "node",
  format: "esm",
  target: "node20",
  outdir: out,
  // CommonJS dependencies (commander, yaml) require Node built-ins, which an ES module bundle has no `require` for.
  banner: {
    js: 'import { createRequire as __rmmCreateRequire } from "node:module";\nconst require = __rmmCreateRequire(import.meta.url);',
  },
  // connect's `new Headers()` takes this module's class instead of Node 20's
  // global, whose first use loads all of Node's bundled undici (fetch,
  // dispatchers, pools): about 46 ms of every `rmm exec`. See cli/web-headers.ts.
  inject: [join(root, "cli", "web-headers.ts")],
  legalComments: "none",
  logLevel: "warning",
});
chmodSync(join(out, "rmm.js"), 0o755);
