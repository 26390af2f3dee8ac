import { timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { h } from "./h.js";
import { readHashQuery, writeHashQuery } from "./hash-query.js";

export type FilterInput = HTMLInputElement | HTMLSelectElement;

/**
 * A row of labelled filters for a list view. Their values start from the
 * hash's query and are written back to it on every change, then `changed` runs.
 */
export function filterForm(
  id: string,
  fields: Record<string, { label: string; input: FilterInput }>,
  changed: () => void,
): HTMLFormElement {
  const query = readHashQuery();
  for (const [key, { input }] of Object.entries(fields)) {
    input.name = key;
    input.id = `${id}-${key}`;
    const value = query.get(key);
    if (value !== null) input.value = value;
  }
  const apply = () => {
    writeHashQuery(Object.fromEntries(Object.entries(fields).map(([key, { input }]) => [key, input.value.trim()])));
    changed();
  };
  const form = h(
    "form",
    {
      class: "filters",
      id,
      onsubmit: (event: Event) => {
        event.preventDefault();
        apply();
      },
    },
    ...Object.values(fields).map(({ label, input }) => h("label", { class: "field" }, h("span", {}, label), input)),
    h("button", { type: "submit" }, "Filter"),
  );
  // Selects and dates apply at once; text applies on Enter or the button.
  form.addEventListener("change", (event) => {
    if (event.target instanceof HTMLSelectElement || (event.target as HTMLInputElement).type === "datetime-local")
      apply();
  });
  return form;
}

export function textFilter(placeholder: string): HTMLInputElement {
  return h("input", { type: "search", placeholder, spellcheck: "false" });
}

export function choiceFilter(options: ReadonlyArray<readonly [value: string, label: string]>): HTMLSelectElement {
  return h("select", {}, ...options.map(([value, label]) => h("option", { value }, label)));
}

export function sinceFilter(): HTMLInputElement {
  return h("input", { type: "datetime-local", step: 1 });
}

/** A datetime-local value (the browser's local time) as a Timestamp; undefined when empty or invalid. */
export function timestampOf(input: HTMLInputElement): Timestamp | undefined {
  const ms = input.value ? new Date(input.value).getTime() : NaN;
  return Number.isNaN(ms) ? undefined : timestampFromMs(ms);
}
