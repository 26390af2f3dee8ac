/**
 * The Fetch standard's Headers (https://fetch.spec.whatwg.org/#headers-class,
 * guard "none"), for the rmm bundle only: scripts/bundle-cli.mjs injects it in
 * place of the global `Headers` that connect uses for every call's metadata.
 * Node 20's global `Headers` is a getter that loads all of its bundled undici
 * (fetch, dispatchers, pools) on first use, about 46 ms of a 400 ms `rmm exec`;
 * the CLI never fetches. web-headers.test.ts checks it against Node's own.
 * The npm package headers-polyfill (5.0.1) fails that same test: it neither
 * trims HTTP whitespace from values nor refuses invalid names and values.
 */
/** What the constructor takes: pairs (a Headers among them) or a record. */
export type WebHeadersInit = Iterable<Iterable<string>> | Record<string, string | readonly string[]>;

export class WebHeaders implements Headers {
  /** Lower-cased name to combined value ("a, b"); set-cookie lives in `cookies`, never combined. */
  private readonly fields = new Map<string, string>();
  private readonly cookies: string[] = [];

  constructor(init?: WebHeadersInit) {
    if (init === undefined || init === null) return;
    if (typeof init !== "object") throw new TypeError("Headers: init must be an object, an array of pairs or Headers");
    if (Symbol.iterator in init) {
      for (const pair of init as Iterable<Iterable<string>>) {
        const entry = [...pair];
        if (entry.length !== 2)
          throw new TypeError(`Headers: each init pair needs a name and a value, got ${entry.length} items`);
        this.append(entry[0]!, entry[1]!);
      }
      return;
    }
    for (const name of Object.keys(init)) this.append(name, String((init as Record<string, unknown>)[name]));
  }

  append(name: string, value: string): void {
    const key = fieldName(name);
    const v = fieldValue(value);
    if (key === "set-cookie") {
      this.cookies.push(v);
      return;
    }
    const had = this.fields.get(key);
    this.fields.set(key, had === undefined ? v : `${had}, ${v}`);
  }

  set(name: string, value: string): void {
    const key = fieldName(name);
    const v = fieldValue(value);
    if (key === "set-cookie") this.cookies.splice(0, this.cookies.length, v);
    else this.fields.set(key, v);
  }

  delete(name: string): void {
    const key = fieldName(name);
    if (key === "set-cookie") this.cookies.length = 0;
    else this.fields.delete(key);
  }

  get(name: string): string | null {
    const key = fieldName(name);
    if (key === "set-cookie") return this.cookies.length ? this.cookies.join(", ") : null;
    return this.fields.get(key) ?? null;
  }

  has(name: string): boolean {
    const key = fieldName(name);
    return key === "set-cookie" ? this.cookies.length > 0 : this.fields.has(key);
  }

  getSetCookie(): string[] {
    return [...this.cookies];
  }

  forEach(callback: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    for (const [key, value] of this.sorted()) callback.call(thisArg, value, key, this);
  }

  *entries(): IterableIterator<[string, string]> {
    yield* this.sorted();
  }

  *keys(): IterableIterator<string> {
    for (const [key] of this.sorted()) yield key;
  }

  *values(): IterableIterator<string> {
    for (const [, value] of this.sorted()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  get [Symbol.toStringTag](): string {
    return "Headers";
  }

  /** The spec's "sort and combine": by name, each set-cookie on its own. */
  private sorted(): Array<[string, string]> {
    const pairs: Array<[string, string]> = [...this.fields];
    for (const cookie of this.cookies) pairs.push(["set-cookie", cookie]);
    // Stable, so set-cookie values keep their order.
    return pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }
}

/** What esbuild's `inject` replaces the global with. */
export { WebHeaders as Headers };

/** RFC 9110 token characters: what a field name may hold. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** HTTP whitespace, trimmed from both ends of a value. */
const EDGE_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;
/** NUL, CR and LF may not appear in a value; nor may anything outside a ByteString. */
const BAD_VALUE = /[\0\r\n]|[^\0-\xff]/;

function fieldName(name: string): string {
  const n = String(name);
  if (!TOKEN.test(n)) throw new TypeError(`Headers: ${JSON.stringify(n.slice(0, 64))} is not a valid header name`);
  return n.toLowerCase();
}

function fieldValue(value: string): string {
  const v = String(value).replace(EDGE_WHITESPACE, "");
  if (BAD_VALUE.test(v)) throw new TypeError(`Headers: invalid value ${JSON.stringify(v.slice(0, 64))}`);
  return v;
}
