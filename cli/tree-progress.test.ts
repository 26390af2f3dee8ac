import { describe, expect, it } from "vitest";
import type { TransferProgress } from "../client/file-transfer.js";
import { TreeProgress } from "./tree-progress.js";

describe("one progress bar for a whole tree", () => {
  it("counts files already there, files in flight and files done against the tree's size", () => {
    const shown: TransferProgress[] = [];
    const progress = new TreeProgress({ update: (p) => shown.push(p), stop: () => undefined }, 1000);
    progress.alreadyThere(100);
    progress.file(0, { transferred: 50, total: 300, resumedFrom: 0 });
    progress.file(1, { transferred: 200, total: 600, resumedFrom: 200 });
    progress.finished(0, 300);
    progress.file(1, { transferred: 600, total: 600, resumedFrom: 200 });
    progress.finished(1, 600);
    expect(shown.map((p) => p.transferred)).toEqual([100, 150, 350, 600, 1000, 1000]);
    expect(new Set(shown.map((p) => p.total))).toEqual(new Set([1000]));
  });
});
