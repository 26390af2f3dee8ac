/**
 * Agent labels, with Kubernetes' syntax and limits, checked in this one place
 * for the agent's flags, its hello and SetAgentLabels.
 */
export type Labels = Record<string, string>;

/** Longest label name and value (Kubernetes: 63). */
export const MAX_LABEL_NAME = 63;
/** Longest key prefix, a DNS subdomain (253). */
export const MAX_LABEL_PREFIX = 253;
/** Labels per agent and source; keeps a row and a hello small. */
export const MAX_LABELS = 64;

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Why `key` is not a label key, or undefined when it is. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf("/");
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    if (prefix.length === 0) return `label key "${clip(key)}" has an empty prefix before "/"`;
    if (prefix.length > MAX_LABEL_PREFIX)
      return `label key prefix "${clip(prefix)}" is longer than ${MAX_LABEL_PREFIX} characters`;
    if (!prefix.split(".").every((part) => DNS_LABEL.test(part)))
      return `label key prefix "${clip(prefix)}" is not a DNS subdomain (lower-case letters, digits, "-" and ".")`;
  }
  if (name.length === 0) return `label key "${clip(key)}" has an empty name`;
  if (name.length > MAX_LABEL_NAME) return `label name "${clip(name)}" is longer than ${MAX_LABEL_NAME} characters`;
  if (!NAME.test(name))
    return `label name "${clip(name)}" must be letters, digits, "-", "_" and ".", starting and ending with a letter or digit`;
  return undefined;
}

/** Why `value` is not a label value, or undefined when it is. */
export function labelValueProblem(value: string): string | undefined {
  if (value.length > MAX_LABEL_NAME) return `label value "${clip(value)}" is longer than ${MAX_LABEL_NAME} characters`;
  if (value !== "" && !NAME.test(value))
    return `label value "${clip(value)}" must be empty or letters, digits, "-", "_" and ".", starting and ending with a letter or digit`;
  return undefined;
}

/** Every problem of a label set, the first one first; undefined when it is valid. */
export function labelsProblem(labels: Labels): string | undefined {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) return `${entries.length} labels, over the limit of ${MAX_LABELS}`;
  for (const [key, value] of entries) {
    const problem = labelKeyProblem(key) ?? labelValueProblem(value);
    if (problem) return problem;
  }
  return undefined;
}

/** `key=value` as given on a command line. */
export function parseLabelFlag(flag: string): [string, string] {
  const eq = flag.indexOf("=");
  if (eq <= 0) throw new Error(`label "${clip(flag)}" is not key=value`);
  const key = flag.slice(0, eq);
  const value = flag.slice(eq + 1);
  const problem = labelKeyProblem(key) ?? labelValueProblem(value);
  if (problem) throw new Error(problem);
  return [key, value];
}

/** What selectors see: the agent's own labels overlaid with the server's (the server wins a conflict). */
export function effectiveLabels(reported: Labels, server: Labels): Labels {
  return { ...reported, ...server };
}

/** A stored JSON label column; null or anything that is not an object of strings reads as no labels. */
export function parseLabelsJson(raw: string | null): Labels {
  if (raw === null || raw === "") return {};
  const parsed: unknown = JSON.parse(raw);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return {};
  const labels: Labels = {};
  for (const [k, v] of Object.entries(parsed)) if (typeof v === "string") labels[k] = v;
  return labels;
}

/** Sorted keys, so equal sets store the same JSON. */
export function labelsJson(labels: Labels): string | null {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return null;
  return JSON.stringify(Object.fromEntries(keys.map((k) => [k, labels[k]])));
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}...` : s;
}
