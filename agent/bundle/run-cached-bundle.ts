import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { isAscii } from "node:buffer";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Script } from "node:vm";
import { crc32 } from "node:zlib";

/** Caches kept beside a bundle at most: one per set of V8 flags it has been run with, which is rarely more than two. */
const MAX_CACHES = 4;
/**
 * When the running program's compiled code is written out: by then the agent
 * has loaded its modules, connected and said hello, so what a start compiles
 * is in the cache. A process that ends sooner writes it as it exits.
 */
const WRITE_AFTER_MS = 3_000;

/**
 * Runs a CommonJS bundle as Node would `require` it, but compiled from V8's
 * code cache when there is one: a start then deserializes bytecode instead of
 * parsing and compiling the whole bundle.
 *
 * V8 accepts a cache only from the same V8 build and flags, and checks the
 * source by its length alone; so the cache's file name carries a CRC-32 of
 * the source, node's version and the V8 flags given (execArgv and
 * NODE_OPTIONS), and a bundle rebuilt, node upgraded or a service run with
 * other flags finds no cache of its own rather than a wrong one. A missing or
 * rejected cache is written anew from the running program (atomically: a
 * temporary file renamed); a directory that cannot be written is left alone,
 * the bundle runs compiled from source.
 */
export function runCachedBundle(bundlePath: string, cacheDir: string): void {
  const bytes = readFileSync(bundlePath);
  // esbuild writes ASCII (it escapes the rest), for which latin1 is the cheapest exact decoding.
  const source = bytes.toString(isAscii(bytes) ? "latin1" : "utf8");
  const cachePath = codeCacheFile(bytes, cacheDir);
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cachePath);
  } catch {
    // No cache yet for this bundle and these flags: written below.
  }
  const script = new Script(wrap(source), { filename: bundlePath, ...(cachedData && { cachedData }) });
  if (cachedData === undefined || script.cachedDataRejected) writeLater(script, cacheDir, cachePath);
  const module = { exports: {} };
  const run = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: unknown,
    filename: string,
    dirname: string,
  ) => void;
  run.call(module.exports, module.exports, createRequire(bundlePath), module, bundlePath, dirname(bundlePath));
}

/**
 * Where the code cache of `bundle` lives for this node and these V8 flags:
 * named by the bundle's CRC-32 and length, and by a CRC-32 of node's version
 * and the flags, since V8 itself checks only the source's length and rejects
 * a cache made under other flags.
 */
export function codeCacheFile(
  bundle: Uint8Array,
  cacheDir: string,
  runtime = { version: process.version, execArgv: process.execArgv, nodeOptions: process.env.NODE_OPTIONS ?? "" },
): string {
  const key = [
    crc32(bundle).toString(16),
    bundle.length.toString(16),
    crc32(`${runtime.version}\0${runtime.execArgv.join("\0")}\0${runtime.nodeOptions}`).toString(16),
  ].join("-");
  return join(cacheDir, `${key}.v8cache`);
}

/** Node's own CommonJS wrapper, so the bundle sees what a required file sees; a `#!` line becomes a comment, as node's loader skips it. */
function wrap(source: string): string {
  const body = source.startsWith("#!") ? `//${source.slice(2)}` : source;
  return `(function (exports, require, module, __filename, __dirname) { ${body}\n});`;
}

function writeLater(script: Script, cacheDir: string, cachePath: string): void {
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    const tmp = `${cachePath}.${process.pid}.tmp`;
    try {
      // Not recursive: a bundle directory removed meanwhile stays removed.
      if (!existsSync(cacheDir)) mkdirSync(cacheDir);
      pruneCaches(cacheDir);
      writeFileSync(tmp, script.createCachedData());
      renameSync(tmp, cachePath);
    } catch {
      // A read-only install: the bundle still runs, compiled from source each start. A full disk
      // may have left part of the temporary file: it goes, so no half-written cache stays behind.
      try {
        rmSync(tmp, { force: true });
      } catch {
        // Nothing was written there either.
      }
    }
  };
  setTimeout(write, WRITE_AFTER_MS).unref();
  process.once("exit", write);
}

/** Leaves room for one more cache: the oldest go (other flags, or a bundle since rebuilt). */
function pruneCaches(cacheDir: string): void {
  const caches = readdirSync(cacheDir)
    .filter((name) => name.endsWith(".v8cache"))
    .map((name) => ({ path: join(cacheDir, name), mtimeMs: statSync(join(cacheDir, name)).mtimeMs }))
    .sort((a, b) => a.mtimeMs - b.mtimeMs);
  for (const old of caches.slice(0, Math.max(0, caches.length - (MAX_CACHES - 1)))) rmSync(old.path, { force: true });
}
