import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileRoots } from "./file-roots.js";

describe("FileRoots", () => {
  let base: string;
  let root: string;
  let roots: FileRoots;
  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => "resolved",
      (e: unknown) => (e instanceof ConnectError ? Code[e.code] : String(e)),
    );

  beforeAll(() => {
    base = realpathSync(mkdtempSync(join(tmpdir(), "rmm-roots-")));
    root = join(base, "root");
    mkdirSync(join(root, "sub"), { recursive: true });
    mkdirSync(join(base, "root-evil"));
    writeFileSync(join(base, "state.json"), "{}");
    symlinkSync(join(base, "root-evil"), join(root, "out"));
    symlinkSync(join(root, "sub"), join(root, "in"));
    symlinkSync(join(base, "state.json"), join(root, "state-link"));
    writeFileSync(join(root, "plain"), "a regular file");
    symlinkSync("loop", join(root, "loop"));
    roots = new FileRoots([root], [join(base, "state.json")]);
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it("resolves paths inside a root, through symlinks that stay inside, and targets that do not exist yet", async () => {
    expect(await roots.resolve(root)).toBe(root);
    expect(await roots.resolve(join(root, "in", "new", "file"))).toBe(join(root, "sub", "new", "file"));
    expect(await roots.resolve(join(root, "sub", "..", "sub"))).toBe(join(root, "sub"));
  });

  it("refuses .., symlinks pointing out, absolute paths elsewhere and a sibling sharing the root's prefix", async () => {
    for (const path of [
      join(root, "..", "state.json"),
      join(root, "out"),
      join(root, "out", "planted"),
      "/etc/passwd",
      join(base, "root-evil", "x"),
    ]) {
      expect(await codeOf(roots.resolve(path)), path).toBe("PermissionDenied");
    }
  });

  it("never serves the agent's state file, even through a symlink inside a root", async () => {
    const everywhere = new FileRoots([], [join(base, "state.json")]);
    await expect(everywhere.resolve(join(base, "state.json"))).rejects.toThrow(/agent's own state file/);
    expect(await codeOf(everywhere.resolve(join(root, "state-link")))).toBe("PermissionDenied");
    expect(await everywhere.resolve("/etc")).toBe("/etc");
  });

  it("refuses empty and relative paths as InvalidArgument", async () => {
    expect(await codeOf(roots.resolve(""))).toBe("InvalidArgument");
    expect(await codeOf(roots.resolve("sub/file"))).toBe("InvalidArgument");
  });

  it("maps a path through a regular file, a symlink loop and an unreadable directory to their codes, naming the path", async () => {
    const underFile = join(root, "plain", "x");
    await expect(roots.resolve(underFile)).rejects.toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: `cannot resolve ${underFile}: a parent is not a directory (ENOTDIR)`,
    });
    // Not yet existing below a regular file: still the file's fault, not a missing path.
    expect(await codeOf(roots.resolve(join(root, "plain", "x", "y")))).toBe("FailedPrecondition");
    await expect(roots.resolve(join(root, "loop", "x"))).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: expect.stringMatching(/loop\/x: too many levels of symbolic links \(ELOOP\)/),
    });
    // Root reads any directory, so the permission case only means something for other users.
    if (process.getuid?.() === 0) return;
    mkdirSync(join(root, "closed"));
    chmodSync(join(root, "closed"), 0o000);
    try {
      await expect(roots.resolve(join(root, "closed", "x"))).rejects.toMatchObject({
        code: Code.PermissionDenied,
        rawMessage: expect.stringMatching(/closed\/x: permission denied/),
      });
    } finally {
      chmodSync(join(root, "closed"), 0o755);
    }
  });

  it("narrowed to a role's path globs, judges the real path: a symlink out of them is refused, one within them is followed", async () => {
    const narrowed = roots.narrowedTo([`${root}/sub/**`]);
    expect(await narrowed.resolve(join(root, "in", "new-file"))).toBe(join(root, "sub", "new-file"));
    expect(await codeOf(narrowed.resolve(join(root, "plain")))).toBe("PermissionDenied");
    // Inside the root and lexically inside the glob, really elsewhere: "in" leads to "sub".
    const viaLink = roots.narrowedTo([`${root}/in/**`]);
    await expect(viaLink.resolve(join(root, "in", "x"))).rejects.toThrow(/resolves to .*sub\/x, which matches none/);
    // The roots themselves are untouched, and no globs means no narrowing.
    expect(await roots.resolve(join(root, "plain"))).toBe(join(root, "plain"));
    expect(roots.narrowedTo([])).toBe(roots);
  });
});
