import type { Role } from "../auth/claims.js";
import { globToRegExp } from "./glob.js";

/**
 * One rule of a role. `program` is a glob matched against the program as given
 * and against its base name (`rm` matches `/bin/rm`); `args`, when present,
 * are globs of which at least one must match at least one argument.
 */
export interface PolicyRule {
  name: string;
  effect: "allow" | "deny";
  program: string;
  args?: string[];
}

export interface RolePolicy {
  /** Whether this role may open interactive terminals. Defaults to false. */
  terminal?: boolean;
  rules: PolicyRule[];
}

/** The policy file's shape: per role, its rules in order. A role not listed may run nothing. */
export interface PolicyDocument {
  roles: Partial<Record<Role, RolePolicy>>;
}

/** The decision on one request, naming the rule that decided it. */
export type PolicyDecision = { type: "allow"; rule: string } | { type: "deny"; rule: string; reason: string };

/** The rule name used when no policy file is configured. */
export const ALLOW_ALL_RULE = "allow-all (no --policy file)";

interface CompiledRule extends PolicyRule {
  programRe: RegExp;
  argRes: RegExp[] | undefined;
}

/**
 * Decides, per technician role, which commands may run and whether terminals
 * may be opened. Any matching deny rule refuses (the first one is named); if
 * none matches, the first matching allow rule permits; if none of those
 * matches either, the command is refused.
 */
export class CommandPolicy {
  private readonly roles = new Map<string, { terminal: boolean; rules: CompiledRule[] }>();

  private constructor(private readonly allowAll: boolean, doc?: PolicyDocument) {
    for (const [role, policy] of Object.entries(doc?.roles ?? {})) {
      if (!policy) continue;
      this.roles.set(role, {
        terminal: policy.terminal ?? false,
        rules: policy.rules.map((r) => ({ ...r, programRe: globToRegExp(r.program), argRes: r.args?.map(globToRegExp) })),
      });
    }
  }

  /** Every command and terminal allowed: the default without a policy file. */
  static allowAll(): CommandPolicy {
    return new CommandPolicy(true);
  }

  static fromDocument(doc: PolicyDocument): CommandPolicy {
    return new CommandPolicy(false, doc);
  }

  get isAllowAll(): boolean {
    return this.allowAll;
  }

  checkCommand(role: string, program: string, args: readonly string[]): PolicyDecision {
    if (this.allowAll) return { type: "allow", rule: ALLOW_ALL_RULE };
    const policy = this.roles.get(role);
    if (!policy) return { type: "deny", rule: "(no rules for role)", reason: `the policy has no rules for role ${role}` };
    const base = program.split(/[\\/]/).pop() ?? program;
    const matching = policy.rules.filter((r) => (r.programRe.test(program) || r.programRe.test(base)) && (!r.argRes || args.some((a) => r.argRes!.some((re) => re.test(a)))));
    const deny = matching.find((r) => r.effect === "deny");
    if (deny) return { type: "deny", rule: deny.name, reason: `refused by policy rule "${deny.name}" for role ${role}` };
    const allow = matching.find((r) => r.effect === "allow");
    if (allow) return { type: "allow", rule: allow.name };
    return { type: "deny", rule: "(no matching allow rule)", reason: `no allow rule for role ${role} matches ${base}` };
  }

  checkTerminal(role: string): PolicyDecision {
    if (this.allowAll) return { type: "allow", rule: ALLOW_ALL_RULE };
    if (this.roles.get(role)?.terminal) return { type: "allow", rule: `roles.${role}.terminal` };
    return { type: "deny", rule: `roles.${role}.terminal`, reason: `interactive terminals are not allowed for role ${role} (policy roles.${role}.terminal)` };
  }
}
