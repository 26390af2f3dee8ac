import { describe, expect, it } from "vitest";
import { WebHeaders } from "./web-headers.js";

type Op = (h: Headers) => unknown;

/** Runs `op` on Node's Headers and on ours: the same result, or a TypeError on both. */
function same(init: ConstructorParameters<typeof Headers>[0], ...ops: Op[]): void {
  const outcome = (make: () => Headers) => {
    try {
      const h = make();
      return ops.map((op) => {
        try {
          return { value: op(h) };
        } catch (err) {
          return { threw: (err as Error).constructor.name };
        }
      });
    } catch (err) {
      return [{ constructorThrew: (err as Error).constructor.name }];
    }
  };
  const ours = outcome(() => new WebHeaders(init as ConstructorParameters<typeof WebHeaders>[0]));
  expect(ours).toEqual(outcome(() => new Headers(init)));
}

const dump: Op = (h) => ({ entries: [...h], keys: [...h.keys()], values: [...h.values()] });
const each: Op = (h) => {
  const seen: unknown[] = [];
  h.forEach((value, key, parent) => seen.push([value, key, parent === h]));
  return seen;
};

describe("WebHeaders behaves as Node's Headers", () => {
  it("builds from a record, pairs and another Headers, lower-casing and sorting names", () => {
    same({ "Content-Type": "application/grpc", TE: "trailers", "x-b": "2", "x-a": "1" }, dump, each);
    same(
      [
        ["X-Dup", "a"],
        ["x-dup", "b"],
        ["Grpc-Timeout", "5S"],
      ],
      dump,
      (h) => h.get("X-DUP"),
    );
    same(new Headers({ a: "1", "set-cookie": "s=1" }), dump);
    expect([...new WebHeaders(new WebHeaders({ b: "2", a: "1" }))]).toEqual([...new Headers({ b: "2", a: "1" })]);
    same(undefined, dump);
    same({}, dump);
  });

  it("appends (combining with a comma), sets, deletes, gets and tests names in any case", () => {
    same(
      {},
      (h) => h.append("Grpc-Accept-Encoding", "gzip"),
      (h) => h.append("grpc-accept-encoding", "br"),
      (h) => h.get("GRPC-ACCEPT-ENCODING"),
      (h) => h.set("Grpc-Accept-Encoding", "identity"),
      (h) => h.get("grpc-accept-encoding"),
      (h) => h.has("grpc-accept-encoding"),
      (h) => h.delete("GRPC-Accept-Encoding"),
      (h) => [h.has("grpc-accept-encoding"), h.get("grpc-accept-encoding")],
      (h) => h.delete("never-set"),
      dump,
    );
  });

  it("keeps each set-cookie apart in iteration and getSetCookie, joined in get", () => {
    same(
      {},
      (h) => h.append("Set-Cookie", "a=1"),
      (h) => h.append("set-cookie", "b=2"),
      (h) => h.append("x", "y"),
      (h) => h.getSetCookie(),
      (h) => h.get("set-cookie"),
      dump,
      (h) => h.set("set-cookie", "c=3"),
      (h) => h.getSetCookie(),
      (h) => h.delete("set-cookie"),
      (h) => [h.has("set-cookie"), h.get("set-cookie"), h.getSetCookie()],
    );
  });

  it("trims HTTP whitespace from values and keeps it inside", () => {
    same(
      {},
      (h) => h.set("a", " \t value with  spaces \r\n"),
      (h) => h.get("a"),
      (h) => h.append("b", ""),
      dump,
    );
  });

  it("refuses bad names, values and init with a TypeError", () => {
    same(
      {},
      (h) => h.set("bad name", "v"),
      (h) => h.set("", "v"),
      (h) => h.set("x", "a\nb"),
      (h) => h.set("x", "a\0b"),
      (h) => h.append("x", "caf\u20ac"),
      (h) => h.get("bad:name"),
      (h) => h.has("(x)"),
      dump,
    );
    same([["only-name"]] as unknown as string[][], dump);
    same([["a", "b", "c"]] as unknown as string[][], dump);
    same("a=b" as unknown as Record<string, string>, dump);
  });

  it("iterates a snapshot with entries, keys and values, and names itself Headers", () => {
    same(
      { b: "2", a: "1" },
      (h) => [...h.entries()],
      (h) => Object.prototype.toString.call(h),
    );
    const ours = new WebHeaders({ a: "1" });
    const it = ours[Symbol.iterator]();
    expect(it[Symbol.iterator]()).toBe(it);
    expect(it.next()).toEqual({ value: ["a", "1"], done: false });
  });
});
