import { Code, ConnectError } from "@connectrpc/connect";
import { labelKeyProblem, labelValueProblem, type Labels } from "../../common/labels.js";

/** One requirement of a selector; a selector matches when all of them do. */
export type Requirement =
  | { op: "exists" | "absent"; key: string }
  | { op: "in" | "notin"; key: string; values: string[] }
  | { op: "gt" | "lt"; key: string; value: number };

/** Longest selector accepted (the jobs table stores it in varchar(4096)). */
export const MAX_SELECTOR_CHARS = 4096;

/**
 * A Kubernetes label selector: `env=prod,role!=db,tier in (web,api),!decommissioned`.
 * `=` and `==` are `in` with one value, `!=` is `notin` with one (which, as in
 * Kubernetes, also matches agents without the key); `key` needs the key,
 * `!key` its absence; `>` and `<` compare integer values. Parsed here and
 * nowhere else.
 */
export class LabelSelector {
  private constructor(
    readonly source: string,
    readonly requirements: readonly Requirement[],
  ) {}

  /** Throws InvalidArgument naming the character (1-based) where the selector went wrong. */
  static parse(source: string): LabelSelector {
    if (source.length > MAX_SELECTOR_CHARS)
      throw new ConnectError(`selector is longer than ${MAX_SELECTOR_CHARS} characters`, Code.InvalidArgument);
    return new LabelSelector(source, new Parser(source).parse());
  }

  get isEmpty(): boolean {
    return this.requirements.length === 0;
  }

  matches(labels: Labels): boolean {
    return this.requirements.every((r) => matchesRequirement(r, labels));
  }
}

function matchesRequirement(r: Requirement, labels: Labels): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = labels[r.key];
  switch (r.op) {
    case "exists":
      return has;
    case "absent":
      return !has;
    case "in":
      return has && r.values.includes(value!);
    case "notin":
      return !has || !r.values.includes(value!);
    case "gt":
    case "lt": {
      if (!has || !/^-?\d+$/.test(value!)) return false;
      const n = Number(value);
      return r.op === "gt" ? n > r.value : n < r.value;
    }
  }
}

const WORD = /[A-Za-z0-9._\-/]/;

class Parser {
  private pos = 0;

  constructor(private readonly src: string) {}

  parse(): Requirement[] {
    const out: Requirement[] = [];
    this.space();
    if (this.pos === this.src.length) return out;
    for (;;) {
      out.push(this.requirement());
      this.space();
      if (this.pos === this.src.length) return out;
      if (this.src[this.pos] !== ",") throw this.error(`expected "," between requirements`);
      this.pos++;
      this.space();
      if (this.pos === this.src.length) throw this.error('expected a requirement after the trailing ","');
    }
  }

  private requirement(): Requirement {
    if (this.src[this.pos] === "!") {
      this.pos++;
      this.space();
      return { op: "absent", key: this.key() };
    }
    const key = this.key();
    this.space();
    const c = this.src[this.pos];
    if (c === undefined || c === ",") return { op: "exists", key };
    if (this.src.startsWith("==", this.pos)) return this.single(key, "in", 2);
    if (c === "=") return this.single(key, "in", 1);
    if (this.src.startsWith("!=", this.pos)) return this.single(key, "notin", 2);
    if (c === ">" || c === "<") {
      this.pos++;
      this.space();
      const at = this.pos;
      const word = this.word();
      if (!/^-?\d+$/.test(word)) throw this.error(`expected an integer after "${c}"`, at);
      return { op: c === ">" ? "gt" : "lt", key, value: Number(word) };
    }
    const at = this.pos;
    const word = this.word();
    if (word === "in" || word === "notin") return { op: word, key, values: this.set() };
    throw this.error(`expected "=", "==", "!=", "in", "notin", ">", "<" or "," after key "${clip(key)}"`, at);
  }

  private single(key: string, op: "in" | "notin", width: number): Requirement {
    this.pos += width;
    this.space();
    return { op, key, values: [this.value()] };
  }

  private set(): string[] {
    this.space();
    if (this.src[this.pos] !== "(") throw this.error('expected "(" to start the set of values');
    this.pos++;
    const values: string[] = [];
    for (;;) {
      this.space();
      values.push(this.value());
      this.space();
      const c = this.src[this.pos];
      if (c === ")") {
        this.pos++;
        return values;
      }
      if (c !== ",") throw this.error(c === undefined ? 'the set of values is missing its ")"' : 'expected "," or ")"');
      this.pos++;
    }
  }

  private key(): string {
    const at = this.pos;
    const key = this.word();
    if (key === "") throw this.error("expected a label key", at);
    const problem = labelKeyProblem(key);
    if (problem) throw this.error(problem, at);
    return key;
  }

  /** Values may be empty (`env=`), as in Kubernetes. */
  private value(): string {
    const at = this.pos;
    const value = this.word();
    const problem = labelValueProblem(value);
    if (problem) throw this.error(problem, at);
    return value;
  }

  private word(): string {
    const start = this.pos;
    while (this.pos < this.src.length && WORD.test(this.src[this.pos]!)) this.pos++;
    return this.src.slice(start, this.pos);
  }

  private space(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos]!)) this.pos++;
  }

  private error(what: string, at = this.pos): ConnectError {
    const found = at < this.src.length ? `"${this.src[at]}"` : "the end";
    return new ConnectError(
      `selector ${JSON.stringify(clip(this.src))}: ${what}, found ${found} at character ${at + 1}`,
      Code.InvalidArgument,
    );
  }
}

function clip(s: string): string {
  return s.length > 120 ? `${s.slice(0, 120)}...` : s;
}
