import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { installFile } from "./atomic-install.js";

describe("installFile", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "rmm-install-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("moves the temporary file into place", async () => {
    writeFileSync(join(dir, "tmp"), "new");
    await installFile(join(dir, "tmp"), join(dir, "target"), false);
    expect(readFileSync(join(dir, "target"), "utf8")).toBe("new");
    expect(existsSync(join(dir, "tmp"))).toBe(false);
  });

  it("without overwrite, refuses a target that exists (EEXIST) and leaves it as it was", async () => {
    writeFileSync(join(dir, "tmp"), "new");
    writeFileSync(join(dir, "target"), "old");
    await expect(installFile(join(dir, "tmp"), join(dir, "target"), false)).rejects.toMatchObject({ code: "EEXIST" });
    expect(readFileSync(join(dir, "target"), "utf8")).toBe("old");
  });

  it("with overwrite, replaces the target in one step", async () => {
    writeFileSync(join(dir, "tmp"), "new");
    writeFileSync(join(dir, "target"), "old");
    await installFile(join(dir, "tmp"), join(dir, "target"), true);
    expect(readFileSync(join(dir, "target"), "utf8")).toBe("new");
  });
});
