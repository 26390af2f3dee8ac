import { readFileSync } from "node:fs";
import { ConnectError } from "@connectrpc/connect";
import { ROLES } from "../auth/claims.js";
import { LabelSelector } from "../labels/label-selector.js";
import { CommandPolicy, type PolicyDocument, type PolicyRule, type RolePolicy } from "./command-policy.js";
import { FILE_ACCESS_LEVELS, type FileAccessLevel } from "./file-access.js";
import { mcpAccessOf } from "./mcp-access.js";

/**
 * Reads and checks a JSON policy file; every mistake is reported with where it
 * is, so a bad policy stops the server at start instead of allowing or refusing
 * the wrong things later.
 */
export function loadPolicyFile(path: string): CommandPolicy {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`policy file ${path}: ${(err as Error).message}`);
  }
  return CommandPolicy.fromDocument(parsePolicy(raw, path));
}

export function parsePolicy(raw: unknown, where = "policy"): PolicyDocument {
  const fail = (at: string, what: string): never => {
    throw new Error(`${where}: ${at} ${what}`);
  };
  if (!isObject(raw) || !isObject(raw.roles)) fail("", 'must be an object with a "roles" object');
  const roles: PolicyDocument["roles"] = {};
  for (const [role, value] of Object.entries((raw as { roles: Record<string, unknown> }).roles)) {
    const at = `roles.${role}`;
    if (!(ROLES as readonly string[]).includes(role)) fail(at, `is not a role (roles: ${ROLES.join(", ")})`);
    if (!isObject(value)) fail(at, "must be an object");
    const v = value as Record<string, unknown>;
    if (v.terminal !== undefined && typeof v.terminal !== "boolean") fail(`${at}.terminal`, "must be true or false");
    if (v.allowEnvironment !== undefined && typeof v.allowEnvironment !== "boolean")
      fail(`${at}.allowEnvironment`, "must be true or false");
    if (v.exclusiveSessions !== undefined && typeof v.exclusiveSessions !== "boolean")
      fail(`${at}.exclusiveSessions`, "must be true or false");
    if (v.files !== undefined && !(FILE_ACCESS_LEVELS as readonly unknown[]).includes(v.files))
      fail(`${at}.files`, `must be one of ${FILE_ACCESS_LEVELS.map((l) => `"${l}"`).join(", ")}`);
    const mcp = v.mcp === undefined ? undefined : mcpAccessOf(v.mcp);
    if (v.mcp !== undefined && mcp === undefined) fail(`${at}.mcp`, 'must be false, "read-only" or true');
    if (v.paths !== undefined) {
      if (v.files === undefined || v.files === "none")
        fail(`${at}.paths`, 'limits file access, but the role has none: set files to "read" or "read-write"');
      if (!(Array.isArray(v.paths) && v.paths.length > 0 && v.paths.every((g) => typeof g === "string")))
        fail(`${at}.paths`, "must be a non-empty array of path globs");
      for (const [i, g] of (v.paths as string[]).entries()) {
        if (!g.startsWith("/") && !/^[A-Za-z]:[\\/]/.test(g))
          fail(`${at}.paths[${i}]`, `"${g}" must be an absolute path glob, for example /var/log/**`);
      }
    }
    if (v.forward !== undefined) {
      if (!Array.isArray(v.forward))
        fail(`${at}.forward`, 'must be an array of { "host": GLOB, "ports": [GLOB, ...] }');
      for (const [i, r] of (v.forward as unknown[]).entries()) {
        const fat = `${at}.forward[${i}]`;
        if (!isObject(r)) fail(fat, 'must be an object { "host": GLOB, "ports": [GLOB, ...] }');
        const rule = r as Record<string, unknown>;
        if (typeof rule.host !== "string" || !rule.host) fail(`${fat}.host`, "must be a non-empty host glob");
        if (!(Array.isArray(rule.ports) && rule.ports.length > 0))
          fail(`${fat}.ports`, 'must be a non-empty array of port globs, for example ["3389", "59*"]');
        for (const [j, p] of (rule.ports as unknown[]).entries()) {
          if (typeof p !== "string" || !/^[\d*?]+$/.test(p))
            fail(`${fat}.ports[${j}]`, 'must be a string of digits and * or ? (ports are strings: "443")');
        }
      }
    }
    if (!Array.isArray(v.rules)) fail(`${at}.rules`, "must be an array");
    const rules = (v.rules as unknown[]).map((r, i): PolicyRule => {
      const rat = `${at}.rules[${i}]`;
      if (!isObject(r)) fail(rat, "must be an object");
      const rule = r as Record<string, unknown>;
      if (typeof rule.name !== "string" || !rule.name) fail(`${rat}.name`, "must be a non-empty string");
      if (rule.effect !== "allow" && rule.effect !== "deny") fail(`${rat}.effect`, 'must be "allow" or "deny"');
      if (typeof rule.program !== "string" || !rule.program) fail(`${rat}.program`, "must be a non-empty glob");
      if (rule.args !== undefined && !(Array.isArray(rule.args) && rule.args.every((a) => typeof a === "string")))
        fail(`${rat}.args`, "must be an array of globs");
      if (rule.effect === "deny" && Array.isArray(rule.args) && rule.args.length === 0)
        fail(`${rat}.args`, "is empty, so the deny rule could never match: leave args out to deny every invocation");
      if (rule.allowEnvironment !== undefined && typeof rule.allowEnvironment !== "boolean")
        fail(`${rat}.allowEnvironment`, "must be true or false");
      if (rule.agents !== undefined) {
        if (typeof rule.agents !== "string" || rule.agents.trim() === "")
          fail(`${rat}.agents`, "must be a non-empty label selector, for example env=prod");
        try {
          LabelSelector.parse(rule.agents as string);
        } catch (err) {
          fail(`${rat}.agents`, err instanceof ConnectError ? err.rawMessage : String(err));
        }
      }
      if (rule.effect === "deny" && rule.allowEnvironment !== undefined)
        fail(`${rat}.allowEnvironment`, "applies to allow rules only");
      return {
        name: rule.name as string,
        effect: rule.effect as "allow" | "deny",
        program: rule.program as string,
        ...(rule.args !== undefined && { args: rule.args as string[] }),
        ...(rule.allowEnvironment !== undefined && { allowEnvironment: rule.allowEnvironment as boolean }),
        ...(rule.agents !== undefined && { agents: rule.agents as string }),
      };
    });
    const parsed: RolePolicy = { rules };
    if (v.terminal !== undefined) parsed.terminal = v.terminal as boolean;
    if (v.allowEnvironment !== undefined) parsed.allowEnvironment = v.allowEnvironment as boolean;
    if (v.exclusiveSessions !== undefined) parsed.exclusiveSessions = v.exclusiveSessions as boolean;
    if (v.files !== undefined) parsed.files = v.files as FileAccessLevel;
    if (v.paths !== undefined) parsed.paths = v.paths as string[];
    if (v.forward !== undefined)
      parsed.forward = (v.forward as Array<{ host: string; ports: string[] }>).map((r) => ({
        host: r.host,
        ports: [...r.ports],
      }));
    if (mcp !== undefined) parsed.mcp = mcp;
    roles[role as keyof PolicyDocument["roles"]] = parsed;
  }
  return { roles };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
