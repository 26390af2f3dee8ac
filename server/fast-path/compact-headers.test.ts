import { describe, expect, it } from "vitest";
import { CompactHeaders } from "./compact-headers.js";

/** Runs the same steps on a fetch Headers and a CompactHeaders and compares every answer. */
function both(steps: (h: Headers) => void): { real: Headers; compact: Headers } {
  const real = new Headers();
  const compact = new CompactHeaders();
  steps(real);
  steps(compact);
  return { real, compact };
}

describe("CompactHeaders answers as fetch Headers does", () => {
  it("for names in any case, repeated names, set-cookie, deletes and iteration order", () => {
    const { real, compact } = both((h) => {
      h.set("Content-Type", "application/grpc");
      h.append("x-b", "1");
      h.append("X-B", "2");
      h.append("set-cookie", "a=1");
      h.append("Set-Cookie", "b=2");
      h.set("x-a", "first");
      h.set("X-A", "second");
      h.append("gone", "soon");
      h.delete("GONE");
    });
    for (const name of ["content-type", "X-B", "x-a", "set-cookie", "gone", "absent"]) {
      expect(compact.get(name)).toBe(real.get(name));
      expect(compact.has(name)).toBe(real.has(name));
    }
    expect(compact.getSetCookie()).toEqual(real.getSetCookie());
    expect([...compact]).toEqual([...real]);
    expect([...compact.keys()]).toEqual([...real.keys()]);
    expect([...compact.values()]).toEqual([...real.values()]);
    const seen: Array<[string, string]> = [];
    compact.forEach((value, key) => seen.push([key, value]));
    expect(seen).toEqual([...real.entries()]);
  });

  it("starts from a record of initial fields, and a fetch Headers copies it", () => {
    const compact = new CompactHeaders({ "Grpc-Status": "0", "content-type": "application/grpc+proto" });
    expect(Object.fromEntries(new Headers(compact))).toEqual({
      "content-type": "application/grpc+proto",
      "grpc-status": "0",
    });
  });
});

describe("CompactHeaders.fromFields", () => {
  it("takes names and values in turn, names in any case", () => {
    const h = CompactHeaders.fromFields(["Authorization", "Bearer x", "x-b", "1", "X-B", "2"]);
    expect(h.get("authorization")).toBe("Bearer x");
    expect(h.get("x-b")).toBe("1, 2");
  });
});
