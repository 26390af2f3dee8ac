/**
 * The request header that says through what a technician's call was made,
 * for example `mcp/example-client/2.0.1`: the server validates it, stores it in
 * the audit rows the call writes (`via`) and applies the role's MCP policy to
 * calls whose marker starts with `mcp/`.
 */
export const VIA_HEADER = "x-rmm-via";

/** Longest marker accepted; the audit columns are varchar(200). */
export const MAX_VIA_CHARS = 200;

/** The marker's prefix for calls made on behalf of an MCP client. */
export const MCP_VIA_PREFIX = "mcp/";

/** Printable ASCII without spaces: it is read in logs and audit queries. */
const VIA_PATTERN = /^[\x21-\x7e]+$/;

/** Why a marker is not acceptable, or undefined when it is. */
export function viaProblem(via: string): string | undefined {
  if (via.length > MAX_VIA_CHARS)
    return `${VIA_HEADER} is ${via.length} characters, over its limit of ${MAX_VIA_CHARS}`;
  if (!VIA_PATTERN.test(via)) return `${VIA_HEADER} must be printable ASCII without spaces, like mcp/CLIENT/VERSION`;
  return undefined;
}

/**
 * The marker for calls made for an MCP client, from the name and version it
 * gave in `initialize` (anything outside the allowed characters becomes `_`,
 * so an odd client name never makes its calls fail).
 */
export function mcpVia(clientName: string | undefined, clientVersion: string | undefined): string {
  const part = (s: string | undefined, fallback: string) =>
    (s || fallback).replace(/[^\x21-\x7e]|\//g, "_").slice(0, 80);
  return `${MCP_VIA_PREFIX}${part(clientName, "unknown")}/${part(clientVersion, "0")}`;
}
