#!/usr/bin/env node
// Builds the agent as one self-contained package: a Node single-executable
// application (the bundled agent injected into a copy of the node binary)
// with the PTY addon's prebuilt binary beside it, in one .tar.gz. Nothing is
// downloaded: the node binary, esbuild and the addon come from this machine
// and node_modules.
//
//   node scripts/package-agent.mjs [--target linux-x64] [--node PATH] [--out DIR]
//
// Why beside and not inside: a native addon cannot be loaded from memory, so a
// SEA blob cannot carry it. Extracting it at first run needs a writable,
// executable directory (often not /tmp, which may be noexec) and a lock
// against two agents extracting at once; a file next to the executable needs
// neither, and install copies the directory as a whole.
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { agentBundleOptions } from "./agent-bundle-options.mjs";

const require = createRequire(import.meta.url);
const { inject } = require("postject");

/** Node's SEA fuse: the string postject flips so the binary runs its blob instead of the CLI. */
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
/** The platforms @lydell/node-pty ships prebuilt binaries for. */
const TARGETS = ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64", "win32-x64", "win32-arm64"];

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const { values: flags } = parseArgs({
  options: {
    target: { type: "string", default: `${process.platform}-${process.arch}` },
    node: { type: "string" },
    out: { type: "string", default: join(root, "build", "agent") },
  },
});
const target = flags.target;
const host = `${process.platform}-${process.arch}`;
if (!TARGETS.includes(target)) fail(`--target ${target} is not one of ${TARGETS.join(", ")}`);
const nodeBinary = flags.node ?? (target === host ? process.execPath : undefined);
if (nodeBinary === undefined)
  fail(
    `building for ${target} on ${host} needs that platform's node ${process.version} binary: pass --node PATH (from nodejs.org's ${process.version} ${target} archive)`,
  );
if (!existsSync(nodeBinary)) fail(`--node ${nodeBinary} does not exist`);
const ptyPackage = `@lydell/node-pty-${target}`;
const ptyDir = join(root, "node_modules", ...ptyPackage.split("/"));
if (!existsSync(ptyDir))
  fail(
    `${ptyPackage} is not installed (npm installs only this machine's): npm install --no-save --force ${ptyPackage}@${require("@lydell/node-pty/package.json").version}`,
  );

const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const name = `rmm-agent-${version}-${target}`;
const out = resolve(flags.out);
const work = join(out, `${name}.work`);
const pkg = join(out, name);
const exe = join(pkg, target.startsWith("win32") ? "rmm-agent.exe" : "rmm-agent");
rmSync(work, { recursive: true, force: true });
rmSync(pkg, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
mkdirSync(pkg, { recursive: true });

const started = Date.now();
// 1. One CommonJS file (SEA runs CommonJS), the bundle the `rmm-agent` bin runs. Inside a SEA, `require` loads only
//    built-ins; the banner swaps in one rooted at the executable, so the PTY
//    package beside it resolves as it would from node_modules.
await build(
  agentBundleOptions(
    root,
    join(work, "rmm-agent.cjs"),
    'require = require("node:module").createRequire(process.execPath);\n',
  ),
);

// 2. The SEA blob. V8's code cache is specific to the building binary, so it is used only for this host's own target.
const seaConfig = join(work, "sea-config.json");
writeFileSync(
  seaConfig,
  JSON.stringify({
    main: join(work, "rmm-agent.cjs"),
    output: join(work, "rmm-agent.blob"),
    disableExperimentalSEAWarning: true,
    useCodeCache: target === host && nodeBinary === process.execPath,
  }),
);
execFileSync(process.execPath, ["--experimental-sea-config", seaConfig], { stdio: ["ignore", "ignore", "inherit"] });

// 3. A copy of node with the blob injected.
copyFileSync(nodeBinary, exe);
chmodSync(exe, 0o755);
if (target.startsWith("darwin") && process.platform === "darwin")
  execFileSync("codesign", ["--remove-signature", exe], { stdio: "inherit" });
await inject(exe, "NODE_SEA_BLOB", readFileSync(join(work, "rmm-agent.blob")), {
  sentinelFuse: SEA_FUSE,
  ...(target.startsWith("darwin") ? { machoSegmentName: "NODE_SEA" } : {}),
});
if (target.startsWith("darwin") && process.platform === "darwin")
  execFileSync("codesign", ["--sign", "-", exe], { stdio: "inherit" });

// 4. The PTY addon beside it, where the executable's require finds it.
cpSync(ptyDir, join(pkg, "node_modules", ...ptyPackage.split("/")), { recursive: true });
writeFileSync(
  join(pkg, "README.txt"),
  `rmm-agent ${version} for ${target}: run ./rmm-agent --help. Keep node_modules/ beside the executable (the terminal addon).\n` +
    `Linux service: sudo ./rmm-agent install --server https://HOST:7443 --token TOKEN [--ca /abs/ca.pem] [--label k=v ...]\n`,
);

// 5. One archive.
const archive = join(out, `${name}.tar.gz`);
execFileSync("tar", ["-czf", archive, "-C", out, name]);
rmSync(work, { recursive: true, force: true });
const seconds = ((Date.now() - started) / 1000).toFixed(1);
process.stdout.write(`${JSON.stringify({ archive, directory: pkg, executable: exe, seconds: Number(seconds) })}\n`);
if (target.startsWith("darwin") && process.platform !== "darwin")
  process.stderr.write("note: sign the macOS executable on a Mac before shipping (codesign --sign - rmm-agent)\n");

function fail(message) {
  process.stderr.write(`package-agent: ${message}\n`);
  process.exit(1);
}
