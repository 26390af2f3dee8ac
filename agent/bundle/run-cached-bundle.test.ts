import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { codeCacheFile, runCachedBundle } from "./run-cached-bundle.js";

const runtime = { version: "v20.0.0", execArgv: [], nodeOptions: "" };

describe("codeCacheFile", () => {
  it("names a cache by the bundle's content, not only its length", () => {
    const a = codeCacheFile(Buffer.from("module.exports = 1;"), "/c", runtime);
    const b = codeCacheFile(Buffer.from("module.exports = 2;"), "/c", runtime);
    expect(a).not.toBe(b);
    expect(codeCacheFile(Buffer.from("module.exports = 1;"), "/c", runtime)).toBe(a);
  });

  it("gives each node version and set of V8 flags a cache of its own", () => {
    const bundle = Buffer.from("module.exports = 1;");
    const plain = codeCacheFile(bundle, "/c", runtime);
    expect(codeCacheFile(bundle, "/c", { ...runtime, execArgv: ["--max-semi-space-size=1"] })).not.toBe(plain);
    expect(codeCacheFile(bundle, "/c", { ...runtime, nodeOptions: "--max-semi-space-size=1" })).not.toBe(plain);
    expect(codeCacheFile(bundle, "/c", { ...runtime, version: "v20.1.0" })).not.toBe(plain);
  });
});

describe("runCachedBundle", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("runs a CommonJS bundle with its own require, module and file name, past a #! line", () => {
    dir = mkdtempSync(join(tmpdir(), "rmm-bundle-"));
    const bundle = join(dir, "agent.cjs");
    writeFileSync(
      bundle,
      "#!/usr/bin/env node\nglobalThis.__rmmBundleTest = { join: typeof require('node:path').join, file: __filename, exports: module.exports === exports };\n",
    );
    runCachedBundle(bundle, join(dir, "code-cache"));
    expect((globalThis as { __rmmBundleTest?: unknown }).__rmmBundleTest).toEqual({
      join: "function",
      file: bundle,
      exports: true,
    });
  });
});
