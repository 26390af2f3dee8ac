import { formatTarget, type ForwardTarget } from "../../common/forward-target.js";
import { globToRegExp } from "../../common/glob.js";

interface AllowEntry {
  text: string;
  host: RegExp;
  port: RegExp;
}

/**
 * The agent's own limit on port forwarding (`rmm-agent run --forward-allow
 * HOST:PORT`, repeatable): `*` and `?` globs on each side of the last colon,
 * hosts without regard to case (`localhost:3389`, `10.0.0.*:443`,
 * `[::1]:*`). No entries: every target the server allows.
 */
export class ForwardAllowList {
  private readonly entries: AllowEntry[];

  constructor(specs: readonly string[]) {
    this.entries = specs.map((spec) => {
      const colon = spec.lastIndexOf(":");
      const host = colon > 0 ? spec.slice(0, colon).replace(/^\[(.*)\]$/, "$1") : "";
      const port = colon > 0 ? spec.slice(colon + 1) : "";
      if (!host || !port || !/^[\d*?]+$/.test(port))
        throw new Error(
          `--forward-allow ${spec} is not HOST:PORT (globs allowed, for example localhost:3389 or 10.0.0.*:443)`,
        );
      return { text: spec, host: globToRegExp(host, "i"), port: globToRegExp(port) };
    });
  }

  get isOpen(): boolean {
    return this.entries.length === 0;
  }

  /** Undefined when allowed; otherwise why not, for a PermissionDenied close. */
  refusal(target: ForwardTarget): string | undefined {
    if (this.isOpen) return undefined;
    if (this.entries.some((e) => e.host.test(target.host) && e.port.test(String(target.port)))) return undefined;
    return `forwarding to ${formatTarget(target)} is not allowed on this agent (rmm-agent run --forward-allow ${this.entries
      .map((e) => e.text)
      .join(" ")})`.slice(0, 1_000);
  }
}
