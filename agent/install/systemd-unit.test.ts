import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { canVerifyUnits, verifyUnit } from "../../test/support/systemd-verify.js";
import { agentUnit, quoteArg } from "./systemd-unit.js";

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A root holding the unit and a stand-in executable at each path its ExecStart names (verify checks they exist). */
function stage(unitName: string, unit: string, executables: string[]): string {
  const root = mkdtempSync(join(tmpdir(), "rmm-unit-"));
  roots.push(root);
  mkdirSync(join(root, "etc/systemd/system"), { recursive: true });
  writeFileSync(join(root, "etc/systemd/system", unitName), unit);
  for (const exe of executables) {
    mkdirSync(join(root, exe, ".."), { recursive: true });
    writeFileSync(join(root, exe), "#!/bin/sh\n");
    chmodSync(join(root, exe), 0o755);
  }
  return root;
}

describe("the agent's systemd unit", () => {
  const unit = agentUnit({
    executable: "/opt/rmm-agent/rmm-agent",
    runArgs: ["--file-root", "/srv/a b", "--disable-channel", "terminal"],
  });

  it("runs the agent in the foreground, restarts it always, keeps state under StateDirectory and is hardened", () => {
    expect(unit).toMatch(/^Type=simple$/m);
    expect(unit).toMatch(/^Restart=always$/m);
    expect(unit).toMatch(/^StateDirectory=rmm-agent$/m);
    expect(unit).toMatch(/^NoNewPrivileges=yes$/m);
    expect(unit).toMatch(/^ProtectSystem=full$/m);
    expect(unit).toMatch(/^WantedBy=multi-user.target$/m);
    expect(unit).toMatch(/^Environment=NODE_OPTIONS=--max-semi-space-size=1$/m);
    expect(unit).toContain(
      'ExecStart=/opt/rmm-agent/rmm-agent run --state /var/lib/rmm-agent/state.json --file-root "/srv/a b" --disable-channel terminal',
    );
  });

  it.runIf(canVerifyUnits)("passes systemd-analyze verify without a warning", async () => {
    const root = stage("rmm-agent.service", unit, ["/opt/rmm-agent/rmm-agent"]);
    expect(await verifyUnit(root, "rmm-agent.service")).toBe("");
  });

  it.runIf(canVerifyUnits)("fails verify when a key is misspelt (so the check above can fail)", async () => {
    const root = stage("rmm-agent.service", unit.replace("Restart=always", "Restrat=always"), [
      "/opt/rmm-agent/rmm-agent",
    ]);
    expect(await verifyUnit(root, "rmm-agent.service")).toMatch(/Unknown key 'Restrat'/);
  });

  it("quotes arguments the way systemd splits them", () => {
    expect(quoteArg("/srv/plain")).toBe("/srv/plain");
    expect(quoteArg("a b")).toBe('"a b"');
    expect(quoteArg('say "hi"')).toBe('"say \\"hi\\""');
    expect(quoteArg("100%")).toBe("100%%");
    expect(quoteArg("$HOME")).toBe('"$$HOME"');
  });
});

describe("deploy/systemd/rmm-server.service", () => {
  const unit = readFileSync("deploy/systemd/rmm-server.service", "utf8");

  it("is hardened like the agent's and more (the server writes only its state directory)", () => {
    for (const line of [
      "Type=simple",
      "Restart=always",
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      "StateDirectory=rmm-server",
      "DynamicUser=yes",
    ])
      expect(unit).toMatch(new RegExp(`^${line}$`, "m"));
    expect(unit).toMatch(/^ExecStart=.* serve --data-dir \/var\/lib\/rmm-server /m);
  });

  it.runIf(canVerifyUnits)("passes systemd-analyze verify without a warning", async () => {
    const root = stage("rmm-server.service", unit, ["/usr/bin/node"]);
    mkdirSync(join(root, "etc/rmm-server"), { recursive: true });
    copyFileSync("/etc/hostname", join(root, "etc/rmm-server/server.crt"));
    copyFileSync("/etc/hostname", join(root, "etc/rmm-server/server.key"));
    expect(await verifyUnit(root, "rmm-server.service")).toBe("");
  });
});
