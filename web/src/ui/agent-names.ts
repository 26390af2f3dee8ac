import type { TunnelClient } from "../api/browser-client.js";

/**
 * Hostnames by agent id, for lists that carry only ids (sessions, audit).
 * Read once per view; an id it does not know (a deleted agent) shows as the id.
 */
export async function agentNames(client: TunnelClient): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  let pageToken = "";
  do {
    const page = await client.listAgents({ pageSize: 1000, pageToken });
    for (const a of page.agents) names.set(a.id, a.hostname);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return names;
}
