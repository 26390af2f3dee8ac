import { describe, expect, it } from "vitest";
import { CommandPolicy } from "./command-policy.js";
import { parsePolicy } from "./policy-file.js";

const policy = CommandPolicy.fromDocument(
  parsePolicy({
    roles: {
      tech: {
        terminal: false,
        rules: [
          { name: "no-recursive-rm", effect: "deny", program: "rm", args: ["-r*", "-*r*"] },
          { name: "no-shutdown", effect: "deny", program: "shutdown" },
          { name: "anything-else", effect: "allow", program: "*" },
        ],
      },
      admin: { terminal: true, rules: [{ name: "all", effect: "allow", program: "*" }] },
    },
  }),
);

describe("command policy", () => {
  it("refuses a command matching a deny rule, naming the rule, even when an allow rule matches too", () => {
    expect(policy.checkCommand("tech", "/bin/rm", ["-rf", "/"])).toMatchObject({ type: "deny", rule: "no-recursive-rm" });
    expect(policy.checkCommand("tech", "shutdown", ["now"])).toMatchObject({ type: "deny", rule: "no-shutdown" });
  });

  it("allows what only an allow rule matches, naming that rule", () => {
    expect(policy.checkCommand("tech", "rm", ["file.txt"])).toEqual({ type: "allow", rule: "anything-else" });
  });

  it("allows terminals per role", () => {
    expect(policy.checkTerminal("tech").type).toBe("deny");
    expect(policy.checkTerminal("admin").type).toBe("allow");
  });

  it("refuses everything for a role the policy does not list", () => {
    const only = CommandPolicy.fromDocument(parsePolicy({ roles: { admin: { rules: [{ name: "all", effect: "allow", program: "*" }] } } }));
    expect(only.checkCommand("tech", "ls", []).type).toBe("deny");
  });

  it("rejects a malformed policy with where the mistake is", () => {
    expect(() => parsePolicy({ roles: { tech: { rules: [{ name: "x", effect: "maybe", program: "*" }] } } })).toThrow(/roles\.tech\.rules\[0\]\.effect/);
    expect(() => parsePolicy({ roles: { root: { rules: [] } } })).toThrow(/not a role/);
  });
});
