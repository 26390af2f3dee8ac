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
    expect(policy.checkCommand("tech", "/bin/rm", ["-rf", "/"])).toMatchObject({
      type: "deny",
      rule: "no-recursive-rm",
    });
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
    const only = CommandPolicy.fromDocument(
      parsePolicy({ roles: { admin: { rules: [{ name: "all", effect: "allow", program: "*" }] } } }),
    );
    expect(only.checkCommand("tech", "ls", []).type).toBe("deny");
  });

  it("rejects a malformed policy with where the mistake is", () => {
    expect(() => parsePolicy({ roles: { tech: { rules: [{ name: "x", effect: "maybe", program: "*" }] } } })).toThrow(
      /roles\.tech\.rules\[0\]\.effect/,
    );
    expect(() => parsePolicy({ roles: { root: { rules: [] } } })).toThrow(/not a role/);
  });
});

describe("command policy: a program given with a path", () => {
  const p = CommandPolicy.fromDocument(
    parsePolicy({
      roles: {
        tech: {
          rules: [
            { name: "no-rm", effect: "deny", program: "rm" },
            { name: "uptime", effect: "allow", program: "uptime" },
            { name: "system-df", effect: "allow", program: "/usr/bin/df" },
          ],
        },
      },
    }),
  );

  it("is not allowed by a rule whose program has no /, which matches bare names only", () => {
    expect(p.checkCommand("tech", "uptime", [])).toEqual({ type: "allow", rule: "uptime" });
    for (const program of ["/tmp/uptime", "./uptime", "bin/uptime"]) {
      const decision = p.checkCommand("tech", program, []);
      expect(decision).toMatchObject({ type: "deny", rule: "(no matching allow rule)" });
      expect(decision.type === "deny" && decision.reason).toMatch(/contains a \//);
    }
  });

  it("is allowed only by a rule whose program contains a /, which in turn does not match the bare name", () => {
    expect(p.checkCommand("tech", "/usr/bin/df", ["-h"])).toEqual({ type: "allow", rule: "system-df" });
    expect(p.checkCommand("tech", "df", ["-h"]).type).toBe("deny");
  });

  it("is still refused by a deny rule for its base name", () => {
    expect(p.checkCommand("tech", "./rm", ["x"])).toMatchObject({ type: "deny", rule: "no-rm" });
    expect(p.checkCommand("tech", "/bin/rm", ["x"])).toMatchObject({ type: "deny", rule: "no-rm" });
  });
});

describe("command policy: argument patterns of allow rules", () => {
  const p = CommandPolicy.fromDocument(
    parsePolicy({
      roles: {
        tech: {
          rules: [
            { name: "service-status", effect: "allow", program: "systemctl", args: ["status", "*"] },
            { name: "unit-logs", effect: "allow", program: "journalctl", args: ["-u", "*", "**"] },
            { name: "bare-uptime", effect: "allow", program: "uptime", args: [] },
          ],
        },
      },
    }),
  );

  it("match positionally, so an allowed word elsewhere in the command does not satisfy them", () => {
    expect(p.checkCommand("tech", "systemctl", ["status", "nginx"])).toEqual({ type: "allow", rule: "service-status" });
    expect(p.checkCommand("tech", "systemctl", ["stop", "status"]).type).toBe("deny");
    expect(p.checkCommand("tech", "systemctl", ["stop", "nginx", "status"]).type).toBe("deny");
  });

  it("need as many arguments as globs, unless the last glob is ** (any remaining arguments, none included)", () => {
    expect(p.checkCommand("tech", "systemctl", ["status", "nginx", "--no-pager"]).type).toBe("deny");
    expect(p.checkCommand("tech", "systemctl", ["status"]).type).toBe("deny");
    expect(p.checkCommand("tech", "journalctl", ["-u", "nginx"])).toEqual({ type: "allow", rule: "unit-logs" });
    expect(p.checkCommand("tech", "journalctl", ["-u", "nginx", "--since", "today"])).toEqual({
      type: "allow",
      rule: "unit-logs",
    });
    expect(p.checkCommand("tech", "journalctl", ["--since", "today", "-u", "nginx"]).type).toBe("deny");
    expect(p.checkCommand("tech", "journalctl", []).type).toBe("deny");
  });

  it("allow no arguments at all when empty", () => {
    expect(p.checkCommand("tech", "uptime", [])).toEqual({ type: "allow", rule: "bare-uptime" });
    expect(p.checkCommand("tech", "uptime", ["-p"]).type).toBe("deny");
  });

  it("rejects a deny rule with an empty args list, which could never match", () => {
    expect(() =>
      parsePolicy({ roles: { tech: { rules: [{ name: "x", effect: "deny", program: "rm", args: [] }] } } }),
    ).toThrow(/roles\.tech\.rules\[0\]\.args.*leave args out/);
  });
});

describe("command policy: environment overrides", () => {
  const doc = (role: Record<string, unknown>) =>
    CommandPolicy.fromDocument(
      parsePolicy({
        roles: { tech: { terminal: true, rules: [{ name: "all", effect: "allow", program: "*" }], ...role } },
      }),
    );

  it("refuses PATH, LD_* and DYLD_* (any case), naming the variable and the setting to change", () => {
    const p = doc({});
    for (const name of ["PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "DYLD_INSERT_LIBRARIES", "Path", "BASH_ENV"]) {
      const decision = p.checkCommand("tech", "ls", [], { [name]: "/tmp/x" });
      expect(decision).toMatchObject({ type: "deny", rule: "roles.tech.allowEnvironment" });
      expect(decision.type === "deny" && decision.reason).toContain(name);
      expect(decision.type === "deny" && decision.reason).toMatch(/allowEnvironment: true/);
    }
    expect(p.checkTerminal("tech", { LD_PRELOAD: "/tmp/x.so" })).toMatchObject({
      type: "deny",
      rule: "roles.tech.allowEnvironment",
    });
  });

  it("lets other variables through", () => {
    expect(doc({}).checkCommand("tech", "ls", [], { LANG: "C", MY_PATH_HINT: "x" })).toEqual({
      type: "allow",
      rule: "all",
    });
    expect(doc({}).checkTerminal("tech", { LANG: "C" }).type).toBe("allow");
  });

  it("allows them where the role or the matching allow rule says allowEnvironment", () => {
    expect(doc({ allowEnvironment: true }).checkCommand("tech", "ls", [], { PATH: "/opt/bin" })).toEqual({
      type: "allow",
      rule: "all",
    });
    expect(doc({ allowEnvironment: true }).checkTerminal("tech", { PATH: "/opt/bin" }).type).toBe("allow");
    const perRule = CommandPolicy.fromDocument(
      parsePolicy({
        roles: {
          tech: {
            rules: [
              { name: "make", effect: "allow", program: "make", allowEnvironment: true },
              { name: "rest", effect: "allow", program: "*" },
            ],
          },
        },
      }),
    );
    expect(perRule.checkCommand("tech", "make", [], { PATH: "/opt/bin" })).toEqual({ type: "allow", rule: "make" });
    expect(perRule.checkCommand("tech", "ls", [], { PATH: "/opt/bin" }).type).toBe("deny");
  });

  it("allows everything without a policy file", () => {
    expect(CommandPolicy.allowAll().checkCommand("tech", "/tmp/x", [], { LD_PRELOAD: "/tmp/x.so" }).type).toBe("allow");
  });
});

describe("command policy: file access", () => {
  const p = CommandPolicy.fromDocument(
    parsePolicy({
      roles: {
        tech: { files: "read", paths: ["/var/log/**", "/srv/*/reports/*.csv", "C:/Logs/**"], rules: [] },
        admin: { files: "read-write", rules: [] },
      },
    }),
  );
  const noFiles = CommandPolicy.fromDocument(
    parsePolicy({ roles: { tech: { rules: [{ name: "all", effect: "allow", program: "*" }] } } }),
  );

  it("allows reads inside the role's paths and refuses writes for files: read, naming the setting", () => {
    expect(p.checkFile("tech", "read", "/var/log/syslog")).toEqual({
      type: "allow",
      rule: "roles.tech.files",
      path: "/var/log/syslog",
    });
    expect(p.checkFile("tech", "read", "/var/log")).toMatchObject({ type: "allow" });
    expect(p.checkFile("tech", "read", "/srv/web/reports/june.csv")).toMatchObject({ type: "allow" });
    const write = p.checkFile("tech", "write", "/var/log/syslog");
    expect(write).toMatchObject({ type: "deny", rule: "roles.tech.files" });
    expect(write.type === "deny" && write.reason).toMatch(/role tech may not write files.*"read"/);
  });

  it("judges the path after resolving .. and refuses what lies outside the paths", () => {
    const escape = p.checkFile("tech", "read", "/var/log/../../etc/shadow");
    expect(escape).toMatchObject({ type: "deny", rule: "roles.tech.paths", path: "/etc/shadow" });
    expect(escape.type === "deny" && escape.reason).toMatch(/\/etc\/shadow.*\/var\/log\/\*\*/);
    expect(p.checkFile("tech", "read", "/var/logs-elsewhere/x").type).toBe("deny");
    expect(p.checkFile("tech", "read", "/srv/web/reports/deep/june.csv").type).toBe("deny");
    expect(p.checkFile("tech", "read", "/var/log/./app/../syslog")).toMatchObject({
      type: "allow",
      path: "/var/log/syslog",
    });
    expect(p.checkFile("tech", "read", "/srv/web/reports/june.csv/")).toMatchObject({
      type: "allow",
      path: "/srv/web/reports/june.csv",
    });
    expect(p.checkFile("tech", "read", "/")).toMatchObject({ type: "deny", path: "/" });
  });

  it("normalises Windows paths and matches them without regard to case", () => {
    expect(p.checkFile("tech", "read", "c:\\logs\\app\\today.log")).toMatchObject({
      type: "allow",
      path: "c:/logs/app/today.log",
    });
    expect(p.checkFile("tech", "read", "C:\\Logs\\..\\Windows\\System32\\config\\SAM").type).toBe("deny");
  });

  it("gives a role without files no file access at all, and read-write without paths everything", () => {
    const stat = noFiles.checkFile("tech", "read", "/etc/hostname");
    expect(stat).toMatchObject({ type: "deny", rule: "roles.tech.files" });
    expect(stat.type === "deny" && stat.reason).toMatch(/"none".*without files/);
    expect(noFiles.checkFile("admin", "read", "/etc/hostname")).toMatchObject({
      type: "deny",
      rule: "(no rules for role)",
    });
    expect(p.checkFile("admin", "write", "/anywhere/at/all").type).toBe("allow");
  });

  it("allows every file without a policy file, passing the path through unchanged", () => {
    expect(CommandPolicy.allowAll().checkFile("tech", "write", "/a/../b")).toMatchObject({
      type: "allow",
      path: "/a/../b",
    });
  });

  it("rejects malformed file settings with where the mistake is", () => {
    expect(() => parsePolicy({ roles: { tech: { files: "write", rules: [] } } })).toThrow(
      /roles\.tech\.files must be one of "none", "read", "read-write"/,
    );
    expect(() => parsePolicy({ roles: { tech: { files: "read", paths: ["var/log/**"], rules: [] } } })).toThrow(
      /roles\.tech\.paths\[0\].*absolute/,
    );
    expect(() => parsePolicy({ roles: { tech: { paths: ["/var/log/**"], rules: [] } } })).toThrow(
      /roles\.tech\.paths.*"read"/,
    );
    expect(() => parsePolicy({ roles: { tech: { files: "read", paths: [], rules: [] } } })).toThrow(
      /roles\.tech\.paths/,
    );
  });
});

describe("exclusive sessions per role", () => {
  it("lists the roles whose sessions are always exclusive, and refuses a setting that is not a boolean", () => {
    const doc = parsePolicy({ roles: { tech: { exclusiveSessions: true, rules: [] }, admin: { rules: [] } } });
    expect([...CommandPolicy.fromDocument(doc).exclusiveRoles]).toEqual(["tech"]);
    expect([...CommandPolicy.allowAll().exclusiveRoles]).toEqual([]);
    expect(() => parsePolicy({ roles: { tech: { exclusiveSessions: "yes", rules: [] } } })).toThrow(
      /roles\.tech\.exclusiveSessions must be true or false/,
    );
  });
});

describe("rules scoped to agents by a label selector", () => {
  const policy = CommandPolicy.fromDocument({
    roles: {
      tech: {
        rules: [
          { name: "no-restart-in-prod", effect: "deny", program: "systemctl", args: ["restart"], agents: "env=prod" },
          { name: "lab-only", effect: "allow", program: "reboot", agents: "env in (lab)" },
          { name: "services", effect: "allow", program: "systemctl" },
        ],
      },
    },
  });

  it("applies a rule only on the agents its selector matches", () => {
    expect(policy.checkCommand("tech", "systemctl", ["restart", "x"], {}, { env: "prod" })).toMatchObject({
      type: "deny",
      rule: "no-restart-in-prod",
    });
    expect(policy.checkCommand("tech", "systemctl", ["restart", "x"], {}, { env: "dev" }).type).toBe("allow");
    expect(policy.checkCommand("tech", "reboot", [], {}, { env: "lab" }).type).toBe("allow");
    expect(policy.checkCommand("tech", "reboot", [], {}, { env: "prod" }).type).toBe("deny");
  });

  it("errs towards refusing when the agent's labels are not known", () => {
    expect(policy.checkCommand("tech", "systemctl", ["restart", "x"]).type).toBe("deny");
    expect(policy.checkCommand("tech", "reboot", []).type).toBe("deny");
  });
});
