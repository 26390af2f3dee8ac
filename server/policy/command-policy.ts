import type { Role } from "../auth/claims.js";
import { FileAccess, normalizeAgentPath, type FileAccessNeed, type FileAccessPolicy } from "./file-access.js";
import type { ForwardTarget } from "../../common/forward-target.js";
import { ForwardRules, type ForwardRule } from "./forward-rules.js";
import { globToRegExp } from "../../common/glob.js";
import { LabelSelector } from "../labels/label-selector.js";
import { MCP_ACCESS_DEFAULT, type McpAccess } from "./mcp-access.js";

/**
 * One rule of a role. `program` is a glob: without a "/" it matches only a
 * program given as a bare name (found on the agent's PATH), with a "/" only a
 * program given as a path, so an allow for `uptime` does not allow
 * `/tmp/uptime`. Deny rules also match the base name of a path (a deny for
 * `rm` refuses `/bin/rm` and `./rm`), since refusing too much is the safe way
 * round.
 *
 * `args`: absent, any arguments. For an allow rule the globs match
 * positionally (argument i against glob i) and the counts must agree, except
 * that a last glob of exactly `**` matches any remaining arguments, none
 * included. For a deny rule it is enough that one glob matches one argument.
 */
export interface PolicyRule {
  name: string;
  effect: "allow" | "deny";
  program: string;
  args?: string[];
  /** Allow rules: the command may set environment variables that change what runs (PATH, LD_*, ...). Defaults to false. */
  allowEnvironment?: boolean;
  /**
   * A label selector: the rule applies only on agents it matches. Job steps
   * know their agent's labels; where they are not known (Exec and channels
   * through a session), a deny rule with `agents` applies and an allow rule
   * with `agents` does not, so refusing too much is the way it errs.
   */
  agents?: string;
}

export interface RolePolicy extends Partial<FileAccessPolicy> {
  /** Whether this role may open interactive terminals. Defaults to false. */
  terminal?: boolean;
  /** Whether every command and terminal of this role may set PATH, LD_* and the like. Defaults to false. */
  allowEnvironment?: boolean;
  /** Whether every tunnel session of this role is opened exclusive (nobody else on the agent meanwhile). Defaults to false. */
  exclusiveSessions?: boolean;
  /** What an MCP client holding this role's token may do. Defaults to "read-only". */
  mcp?: McpAccess;
  rules: PolicyRule[];
  /** Port forwarding targets this role may reach (tcp channels). Defaults to none. */
  forward?: ForwardRule[];
}

/** The policy file's shape: per role, its rules in order. A role not listed may run nothing and touch no file. */
export interface PolicyDocument {
  roles: Partial<Record<Role, RolePolicy>>;
}

/** The decision on one request, naming the rule that decided it. */
export type PolicyDecision = { type: "allow"; rule: string } | { type: "deny"; rule: string; reason: string };

/** A file request's decision; an allowed one carries the normalised path to send to the agent. */
export type FileDecision =
  { type: "allow"; rule: string; path: string } | { type: "deny"; rule: string; reason: string; path: string };

/** The rule name used when no policy file is configured. */
export const ALLOW_ALL_RULE = "allow-all (no --policy file)";

/** The last argument glob that stands for any remaining arguments in an allow rule. */
export const REST_ARGS = "**";

/**
 * Variables that change which code a command runs (its program lookup, the
 * dynamic loader, a shell's start-up file): refused under a policy unless
 * allowEnvironment says otherwise. Compared case-insensitively (Windows names are).
 */
const RISKY_ENVIRONMENT = [/^PATH$/i, /^LD_/i, /^DYLD_/i, /^BASH_ENV$/i, /^ENV$/i];

interface CompiledRule extends PolicyRule {
  programRe: RegExp;
  byPath: boolean;
  argRes: RegExp[] | undefined;
  agentSelector: LabelSelector | undefined;
}

interface CompiledRole {
  terminal: boolean;
  allowEnvironment: boolean;
  files: FileAccess;
  forward: ForwardRules;
  mcp: McpAccess;
  rules: CompiledRule[];
}

/**
 * Decides, per technician role, which commands may run, whether terminals
 * may be opened and which files may be read or written. Any matching deny
 * rule refuses (the first one is named); if none matches, the first matching
 * allow rule permits; if none of those matches either, the command is refused.
 */
export class CommandPolicy {
  private readonly roles = new Map<string, CompiledRole>();
  /** Roles whose sessions are always exclusive. */
  readonly exclusiveRoles = new Set<Role>();

  private constructor(
    private readonly allowAll: boolean,
    doc?: PolicyDocument,
  ) {
    for (const [role, policy] of Object.entries(doc?.roles ?? {})) {
      if (!policy) continue;
      if (policy.exclusiveSessions) this.exclusiveRoles.add(role as Role);
      this.roles.set(role, {
        terminal: policy.terminal ?? false,
        allowEnvironment: policy.allowEnvironment ?? false,
        files: new FileAccess({ files: policy.files ?? "none", ...(policy.paths && { paths: policy.paths }) }),
        forward: new ForwardRules(policy.forward ?? []),
        mcp: policy.mcp ?? MCP_ACCESS_DEFAULT,
        rules: policy.rules.map((r) => ({
          ...r,
          programRe: globToRegExp(r.program),
          byPath: /[\\/]/.test(r.program),
          argRes: r.args?.map((g) => globToRegExp(g)),
          agentSelector: r.agents === undefined ? undefined : LabelSelector.parse(r.agents),
        })),
      });
    }
  }

  /** Every command, terminal and file allowed: the default without a policy file. */
  static allowAll(): CommandPolicy {
    return new CommandPolicy(true);
  }

  static fromDocument(doc: PolicyDocument): CommandPolicy {
    return new CommandPolicy(false, doc);
  }

  get isAllowAll(): boolean {
    return this.allowAll;
  }

  /**
   * The path globs a role's file requests are confined to (its `paths`), for the agent to check against
   * the real path after following symlinks, which the server cannot see. Empty: any path.
   */
  filePathGlobs(role: string): readonly string[] {
    return this.allowAll ? [] : (this.roles.get(role)?.files.pathGlobs ?? []);
  }

  /** MCP access of a role: everything without a policy file, nothing for a role the file does not list. */
  mcpAccess(role: string): McpAccess {
    if (this.allowAll) return "full";
    return this.roles.get(role)?.mcp ?? "none";
  }

  checkCommand(
    role: string,
    program: string,
    args: readonly string[],
    environment: Readonly<Record<string, string>> = {},
    agentLabels?: Readonly<Record<string, string>>,
  ): PolicyDecision {
    if (this.allowAll) return { type: "allow", rule: ALLOW_ALL_RULE };
    const policy = this.roles.get(role);
    if (!policy)
      return { type: "deny", rule: "(no rules for role)", reason: `the policy has no rules for role ${role}` };
    const onAgent = (r: CompiledRule) =>
      !r.agentSelector || (agentLabels === undefined ? r.effect === "deny" : r.agentSelector.matches(agentLabels));
    const givenAsPath = /[\\/]/.test(program);
    const base = program.split(/[\\/]/).pop() ?? program;
    const deny = policy.rules.find(
      (r) =>
        r.effect === "deny" &&
        onAgent(r) &&
        (r.programRe.test(program) || r.programRe.test(base)) &&
        (!r.argRes || args.some((a) => r.argRes!.some((re) => re.test(a)))),
    );
    if (deny)
      return { type: "deny", rule: deny.name, reason: `refused by policy rule "${deny.name}" for role ${role}` };
    const allow = policy.rules.find(
      (r) =>
        r.effect === "allow" &&
        onAgent(r) &&
        r.byPath === givenAsPath &&
        r.programRe.test(program) &&
        (!r.argRes || argsMatchInOrder(r.argRes, r.args!, args)),
    );
    if (!allow) {
      const hint = givenAsPath ? " (a program given with a path matches only rules whose program contains a /)" : "";
      return {
        type: "deny",
        rule: "(no matching allow rule)",
        reason: `no allow rule for role ${role} matches ${[program, ...args].join(" ").slice(0, 200)}${hint}`,
      };
    }
    const risky = policy.allowEnvironment || allow.allowEnvironment ? undefined : riskyVariable(environment);
    if (risky) return environmentRefusal(role, risky, `roles.${role}.rules "${allow.name}"`);
    return { type: "allow", rule: allow.name };
  }

  checkTerminal(role: string, environment: Readonly<Record<string, string>> = {}): PolicyDecision {
    if (this.allowAll) return { type: "allow", rule: ALLOW_ALL_RULE };
    const policy = this.roles.get(role);
    if (!policy?.terminal)
      return {
        type: "deny",
        rule: `roles.${role}.terminal`,
        reason: `interactive terminals are not allowed for role ${role} (policy roles.${role}.terminal)`,
      };
    const risky = policy.allowEnvironment ? undefined : riskyVariable(environment);
    if (risky) return environmentRefusal(role, risky, `roles.${role}`);
    return { type: "allow", rule: `roles.${role}.terminal` };
  }

  /** Whether `role` may forward a TCP connection to `target` (rules match the host as given). */
  checkForward(role: string, target: ForwardTarget): PolicyDecision {
    if (this.allowAll) return { type: "allow", rule: ALLOW_ALL_RULE };
    const policy = this.roles.get(role);
    if (!policy)
      return {
        type: "deny",
        rule: "(no rules for role)",
        reason: `the policy has no entry for role ${role}, so it may not forward ports`,
      };
    const index = policy.forward.match(target);
    if (index < 0) return { type: "deny", rule: `roles.${role}.forward`, reason: policy.forward.refusal(role, target) };
    return { type: "allow", rule: `roles.${role}.forward[${index}]` };
  }

  /** Whether `role` may read or write `path` (absolute); the decision carries the normalised path the agent must be sent. */
  checkFile(role: string, need: FileAccessNeed, path: string): FileDecision {
    if (this.allowAll) return { type: "allow", rule: ALLOW_ALL_RULE, path };
    const normalized = normalizeAgentPath(path);
    const policy = this.roles.get(role);
    if (!policy)
      return {
        type: "deny",
        rule: "(no rules for role)",
        reason: `the policy has no entry for role ${role}, so it may not touch files`,
        path: normalized,
      };
    const refusal = policy.files.refusal(role, need, normalized);
    if (refusal) return { type: "deny", ...refusal, path: normalized };
    return { type: "allow", rule: `roles.${role}.files`, path: normalized };
  }
}

function argsMatchInOrder(res: RegExp[], globs: string[], args: readonly string[]): boolean {
  const rest = globs.at(-1) === REST_ARGS;
  const fixed = rest ? res.length - 1 : res.length;
  if (rest ? args.length < fixed : args.length !== fixed) return false;
  for (let i = 0; i < fixed; i++) if (!res[i]!.test(args[i]!)) return false;
  return true;
}

function riskyVariable(environment: Readonly<Record<string, string>>): string | undefined {
  return Object.keys(environment).find((name) => RISKY_ENVIRONMENT.some((re) => re.test(name)));
}

function environmentRefusal(role: string, variable: string, where: string): PolicyDecision {
  return {
    type: "deny",
    rule: `roles.${role}.allowEnvironment`,
    reason: `role ${role} may not set ${variable}: it changes what runs; set allowEnvironment: true on ${where} in the policy to permit it`,
  };
}
