import { readFileSync } from "node:fs";
import { ROLES } from "../auth/claims.js";
import { CommandPolicy, type PolicyDocument, type PolicyRule } from "./command-policy.js";

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
  if (!isObject(raw) || !isObject(raw.roles)) fail("", "must be an object with a \"roles\" object");
  const roles: PolicyDocument["roles"] = {};
  for (const [role, value] of Object.entries((raw as { roles: Record<string, unknown> }).roles)) {
    const at = `roles.${role}`;
    if (!(ROLES as readonly string[]).includes(role)) fail(at, `is not a role (roles: ${ROLES.join(", ")})`);
    if (!isObject(value)) fail(at, "must be an object");
    const v = value as Record<string, unknown>;
    if (v.terminal !== undefined && typeof v.terminal !== "boolean") fail(`${at}.terminal`, "must be true or false");
    if (!Array.isArray(v.rules)) fail(`${at}.rules`, "must be an array");
    const rules = (v.rules as unknown[]).map((r, i): PolicyRule => {
      const rat = `${at}.rules[${i}]`;
      if (!isObject(r)) fail(rat, "must be an object");
      const rule = r as Record<string, unknown>;
      if (typeof rule.name !== "string" || !rule.name) fail(`${rat}.name`, "must be a non-empty string");
      if (rule.effect !== "allow" && rule.effect !== "deny") fail(`${rat}.effect`, "must be \"allow\" or \"deny\"");
      if (typeof rule.program !== "string" || !rule.program) fail(`${rat}.program`, "must be a non-empty glob");
      if (rule.args !== undefined && !(Array.isArray(rule.args) && rule.args.every((a) => typeof a === "string"))) fail(`${rat}.args`, "must be an array of globs");
      return { name: rule.name as string, effect: rule.effect as "allow" | "deny", program: rule.program as string, ...(rule.args !== undefined && { args: rule.args as string[] }) };
    });
    roles[role as keyof PolicyDocument["roles"]] = { ...(v.terminal !== undefined && { terminal: v.terminal as boolean }), rules };
  }
  return { roles };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
