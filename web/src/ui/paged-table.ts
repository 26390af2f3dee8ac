import { describeError } from "../api/browser-client.js";
import { h } from "./h.js";

export interface PagedTableOptions<T> {
  /** Prefix of the element ids (`<id>-table`, `<id>-status`, `<id>-older`, `<id>-newer`). */
  id: string;
  columns: readonly string[];
  /** One page from the API: the rows and the token of the next page ("" on the last). */
  fetch(pageToken: string): Promise<{ rows: T[]; nextPageToken: string }>;
  row(item: T): HTMLTableRowElement;
  /** What the empty table says. */
  empty: string;
  /** Lists the page shown again this often, in ms, while the table is shown. Default: only when asked. */
  refreshMs?: number;
}

export interface PagedTable {
  element: HTMLElement;
  /** Lists from the first page again (after a filter changed). */
  reload(): void;
  /** Stops the live refresh. */
  dispose(): void;
}

/**
 * A table over a paged List call, newest first: Older follows next_page_token,
 * Newer goes back through the tokens already seen. A failed call keeps the
 * rows shown and says why.
 */
export function pagedTable<T>(opts: PagedTableOptions<T>): PagedTable {
  const body = h("tbody");
  const status = h("span", { class: "muted small", id: `${opts.id}-status` });
  const newer = h("button", { type: "button", class: "small", id: `${opts.id}-newer`, disabled: true }, "← Newer");
  const older = h("button", { type: "button", class: "small", id: `${opts.id}-older`, disabled: true }, "Older →");
  /** The token of every page from the first to the one shown. */
  let tokens: string[] = [""];
  let next = "";
  let generation = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;

  const load = async () => {
    clearTimeout(timer);
    const mine = ++generation;
    try {
      const page = await opts.fetch(tokens[tokens.length - 1] ?? "");
      if (mine !== generation) return;
      next = page.nextPageToken;
      body.replaceChildren(...page.rows.map(opts.row));
      if (page.rows.length === 0)
        body.append(h("tr", {}, h("td", { colspan: opts.columns.length, class: "empty" }, opts.empty)));
      status.textContent = `Page ${tokens.length} · ${page.rows.length} shown${next ? "" : " · the end"}`;
      status.classList.remove("error");
    } catch (err) {
      if (mine !== generation) return;
      status.textContent = describeError(err);
      status.classList.add("error");
    }
    newer.disabled = tokens.length <= 1;
    older.disabled = next === "";
    if (opts.refreshMs !== undefined && !disposed) timer = setTimeout(() => void load(), opts.refreshMs);
  };
  newer.addEventListener("click", () => {
    if (tokens.length > 1) tokens.pop();
    void load();
  });
  older.addEventListener("click", () => {
    if (next === "") return;
    tokens.push(next);
    void load();
  });
  const element = h(
    "div",
    { class: "paged" },
    h(
      "div",
      { class: "card flush" },
      h(
        "table",
        { class: "cards", id: `${opts.id}-table` },
        h("thead", {}, h("tr", {}, ...opts.columns.map((c) => h("th", {}, c)))),
        body,
      ),
    ),
    h("div", { class: "pager" }, status, h("span", { class: "spacer" }), newer, older),
  );
  return {
    element,
    reload: () => {
      tokens = [""];
      void load();
    },
    dispose: () => {
      disposed = true;
      clearTimeout(timer);
    },
  };
}
