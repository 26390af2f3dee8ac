import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { errnoCode } from "./errno-code.js";

const errno = (code: string) => Object.assign(new Error(code), { code });

describe("errnoCode", () => {
  it("maps the errnos a file operation meets to the status a caller can act on", () => {
    expect(Code[errnoCode(errno("ENOENT"))]).toBe("NotFound");
    expect(Code[errnoCode(errno("ENOTDIR"))]).toBe("FailedPrecondition");
    expect(Code[errnoCode(errno("EACCES"))]).toBe("PermissionDenied");
    expect(Code[errnoCode(errno("ENOSPC"))]).toBe("ResourceExhausted");
    expect(Code[errnoCode(errno("ELOOP"))]).toBe("InvalidArgument");
  });

  it("answers Internal for unknown errnos and errors without one", () => {
    expect(Code[errnoCode(errno("EWEIRD"))]).toBe("Internal");
    expect(Code[errnoCode(new Error("boom"))]).toBe("Internal");
    expect(Code[errnoCode("a string")]).toBe("Internal");
    expect(Code[errnoCode(undefined)]).toBe("Internal");
  });
});
