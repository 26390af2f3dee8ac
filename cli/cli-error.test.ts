import { readFileSync } from "node:fs";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { channelError } from "./channel-error.js";
import { ExitCode, exitCodeFor, toCliError } from "./cli-error.js";

// README's table of exit statuses, code by code; every gRPC code is listed so a new mapping is a deliberate edit here.
const EXPECTED: Record<keyof typeof Code, number> = {
  Canceled: 130,
  Unknown: 1,
  InvalidArgument: 9,
  DeadlineExceeded: 10,
  NotFound: 6,
  AlreadyExists: 8,
  PermissionDenied: 5,
  ResourceExhausted: 1,
  FailedPrecondition: 7,
  Aborted: 8,
  OutOfRange: 9,
  Unimplemented: 1,
  Internal: 1,
  Unavailable: 7,
  DataLoss: 11,
  Unauthenticated: 4,
};

describe("exit statuses", () => {
  it.each(Object.entries(EXPECTED))("maps %s to %i, for RPC errors and channel ends alike", (name, status) => {
    const code = Code[name as keyof typeof Code];
    expect(exitCodeFor(code)).toBe(status);
    expect(toCliError(new ConnectError("x", code)).exitCode).toBe(status);
    expect(channelError(code, "x").exitCode).toBe(status);
  });

  it("lists in README exactly the statuses rmm exits with", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const table = readme.slice(readme.indexOf("| status | meaning |"));
    const documented = [...table.slice(0, table.indexOf("\n\n")).matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1]));
    expect(documented.sort((a, b) => a - b)).toEqual(Object.values(ExitCode).sort((a, b) => a - b));
  });
});
