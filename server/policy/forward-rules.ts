import { formatTarget, type ForwardTarget } from "../../common/forward-target.js";
import { globToRegExp } from "../../common/glob.js";

/**
 * One `forward` rule of a role: a host glob (matched without regard to case,
 * against the host as the technician gave it, never a resolved address) and
 * port globs (`"3389"`, `"59*"`, `"*"`).
 */
export interface ForwardRule {
  host: string;
  ports: string[];
}

interface CompiledForwardRule {
  host: RegExp;
  ports: RegExp[];
}

/** A role's forward rules; no rules, no forwarding. */
export class ForwardRules {
  private readonly compiled: CompiledForwardRule[];

  constructor(private readonly rules: readonly ForwardRule[]) {
    this.compiled = rules.map((r) => ({
      host: globToRegExp(r.host, "i"),
      ports: r.ports.map((p) => globToRegExp(p)),
    }));
  }

  /** The index of the first rule that matches, or -1. */
  match(target: ForwardTarget): number {
    const port = String(target.port);
    return this.compiled.findIndex((r) => r.host.test(target.host) && r.ports.some((p) => p.test(port)));
  }

  /** Why `role` may not forward to `target`, for a PermissionDenied. */
  refusal(role: string, target: ForwardTarget): string {
    if (this.rules.length === 0)
      return `role ${role} may not forward ports: the policy has no roles.${role}.forward rules`;
    const listed = this.rules
      .map((r) => `${r.host}:${r.ports.join("|")}`)
      .join(", ")
      .slice(0, 300);
    return `role ${role} may not forward to ${formatTarget(target)}: it matches none of roles.${role}.forward (${listed})`;
  }
}
