import { describe, expect, it } from "vitest";
import { ALLOW_ALL_RULE, CommandPolicy } from "./command-policy.js";
import { parsePolicy } from "./policy-file.js";

const policy = CommandPolicy.fromDocument(
  parsePolicy({
    roles: {
      tech: {
        rules: [],
        forward: [
          { host: "localhost", ports: ["3389", "5900"] },
          { host: "10.0.0.*", ports: ["443"] },
        ],
      },
      admin: { rules: [{ name: "all", effect: "allow", program: "*" }] },
    },
  }),
);

describe("forward rules in the policy", () => {
  it("allow a target whose host and port match one rule, naming it", () => {
    expect(policy.checkForward("tech", { host: "localhost", port: 5900 })).toEqual({
      type: "allow",
      rule: "roles.tech.forward[0]",
    });
    expect(policy.checkForward("tech", { host: "LOCALHOST", port: 3389 }).type).toBe("allow");
    expect(policy.checkForward("tech", { host: "10.0.0.17", port: 443 })).toEqual({
      type: "allow",
      rule: "roles.tech.forward[1]",
    });
  });

  it("refuse a port or host no rule names, judging the host as given", () => {
    expect(policy.checkForward("tech", { host: "localhost", port: 22 })).toMatchObject({
      type: "deny",
      rule: "roles.tech.forward",
      reason:
        "role tech may not forward to localhost:22: it matches none of roles.tech.forward (localhost:3389|5900, 10.0.0.*:443)",
    });
    expect(policy.checkForward("tech", { host: "127.0.0.1", port: 3389 }).type).toBe("deny");
    expect(policy.checkForward("tech", { host: "10.0.1.17", port: 443 }).type).toBe("deny");
  });

  it("give a role without forward rules no forwarding, and an unlisted role nothing", () => {
    expect(policy.checkForward("admin", { host: "localhost", port: 3389 })).toMatchObject({
      type: "deny",
      reason: "role admin may not forward ports: the policy has no roles.admin.forward rules",
    });
    const noAdmin = CommandPolicy.fromDocument(parsePolicy({ roles: { tech: { rules: [] } } }));
    expect(noAdmin.checkForward("admin", { host: "localhost", port: 1 }).type).toBe("deny");
  });

  it("allow everything without a policy file", () => {
    expect(CommandPolicy.allowAll().checkForward("tech", { host: "anything", port: 1 })).toEqual({
      type: "allow",
      rule: ALLOW_ALL_RULE,
    });
  });

  it("reject malformed forward rules with where the mistake is", () => {
    expect(() => parsePolicy({ roles: { tech: { rules: [], forward: {} } } })).toThrow(
      /roles\.tech\.forward must be an array/,
    );
    expect(() => parsePolicy({ roles: { tech: { rules: [], forward: [{ host: "", ports: ["1"] }] } } })).toThrow(
      /roles\.tech\.forward\[0\]\.host must be a non-empty host glob/,
    );
    expect(() => parsePolicy({ roles: { tech: { rules: [], forward: [{ host: "x", ports: [] }] } } })).toThrow(
      /roles\.tech\.forward\[0\]\.ports must be a non-empty array/,
    );
    expect(() => parsePolicy({ roles: { tech: { rules: [], forward: [{ host: "x", ports: [443] }] } } })).toThrow(
      /roles\.tech\.forward\[0\]\.ports\[0\] must be a string of digits/,
    );
  });
});
