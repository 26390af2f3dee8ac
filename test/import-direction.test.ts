import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const PRODUCTION = ["agent", "cli", "client", "common", "migrations", "server"];

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
    .map((f) => join(dir, f));
}

/** `file: target` for every relative import of `file` that lands under one of `folders`. */
function importsInto(files: string[], folders: string[]): string[] {
  return files.flatMap((file) =>
    [...readFileSync(join(ROOT, file), "utf8").matchAll(/from "(\.[^"]+)"|import\("(\.[^"]+)"\)/g)]
      .map((m) => relative(ROOT, resolve(ROOT, dirname(file), m[1] ?? m[2]!)))
      .filter((target) => folders.some((folder) => target.startsWith(`${folder}/`)))
      .map((target) => `${file}: ${target}`),
  );
}

describe("dependency direction", () => {
  it("keeps production code off the tests and the rigs they share with benchmarks", () => {
    expect(importsInto(PRODUCTION.flatMap(sources), ["test", "testkit", "bench"])).toEqual([]);
  });

  it("keeps benchmarks and the shared rigs off the tests", () => {
    expect(importsInto([...sources("bench"), ...sources("testkit")], ["test"])).toEqual([]);
  });
});
