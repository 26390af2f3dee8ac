/**
 * The fetch `Headers` interface over one flat array of lower-case names and
 * values, for the three header sets of every fast-path call. A `Headers`
 * (a list, a map, its table and an object per entry) held about 500 bytes
 * for a few short entries, and an agent's call keeps three for the life of
 * its stream (heap snapshot of 1,000 idle agents). Same answers as `Headers`:
 * names case-insensitive, repeated names joined with ", " (set-cookie kept
 * apart), iteration sorted by name. Values are taken as given (callers pass
 * header values Node has already checked).
 */
export class CompactHeaders implements Headers {
  /** name0, value0, name1, value1, ...: names lower case, in insertion order. */
  private fields: string[];

  constructor(init?: Record<string, string>) {
    const entries = init ? Object.entries(init) : [];
    // Exactly as long as its fields: an array grown by push keeps room for 16 more.
    this.fields = new Array<string>(entries.length * 2);
    entries.forEach(([name, value], i) => {
      this.fields[2 * i] = name.toLowerCase();
      this.fields[2 * i + 1] = value;
    });
  }

  /** From names and values in turn (name0, value0, ...); names are lower-cased. */
  static fromFields(fields: readonly string[]): CompactHeaders {
    const headers = new CompactHeaders();
    headers.fields = fields.map((f, i) => (i % 2 === 0 ? f.toLowerCase() : f));
    return headers;
  }

  append(name: string, value: string): void {
    this.fields = this.fields.concat(name.toLowerCase(), String(value));
  }

  delete(name: string): void {
    const key = name.toLowerCase();
    if (!this.fields.includes(key)) return;
    this.fields = this.fields.filter((_, i) => this.fields[i - (i % 2)] !== key).slice();
  }

  get(name: string): string | null {
    const key = name.toLowerCase();
    let out: string | null = null;
    for (let i = 0; i < this.fields.length; i += 2)
      if (this.fields[i] === key) out = out === null ? this.fields[i + 1]! : `${out}, ${this.fields[i + 1]!}`;
    return out;
  }

  getSetCookie(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.fields.length; i += 2) if (this.fields[i] === "set-cookie") out.push(this.fields[i + 1]!);
    return out;
  }

  has(name: string): boolean {
    const key = name.toLowerCase();
    for (let i = 0; i < this.fields.length; i += 2) if (this.fields[i] === key) return true;
    return false;
  }

  set(name: string, value: string): void {
    this.delete(name);
    this.append(name, value);
  }

  forEach(callback: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    for (const [key, value] of this.entries()) callback.call(thisArg, value, key, this);
  }

  *entries(): IterableIterator<[string, string]> {
    const names = [...new Set(this.fields.filter((_, i) => i % 2 === 0))].sort();
    for (const name of names) {
      if (name === "set-cookie") for (const cookie of this.getSetCookie()) yield [name, cookie];
      else yield [name, this.get(name)!];
    }
  }

  *keys(): IterableIterator<string> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): IterableIterator<string> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}
