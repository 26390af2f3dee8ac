import { Code, ConnectError } from "@connectrpc/connect";
import type { AgentRow, AgentStore } from "../store/index.js";
import { labelsOfRow } from "../services/agent-directory.js";
import type { LabelSelector } from "../labels/label-selector.js";

/** Rows read per query while resolving a selector. */
const SCAN_CHUNK = 1_000;

/** A job's target agents: the selector's matches and the named ids, in id order, each once. */
export async function resolveTargets(
  agents: AgentStore,
  selector: LabelSelector,
  agentIds: readonly string[],
): Promise<AgentRow[]> {
  const byId = new Map<string, AgentRow>();
  for (let i = 0; i < agentIds.length; i += SCAN_CHUNK) {
    const ids = agentIds.slice(i, i + SCAN_CHUNK);
    const rows = await agents.list({ afterId: "", limit: ids.length, ids });
    for (const row of rows) byId.set(row.id, row);
    const missing = ids.find((id) => !byId.has(id));
    if (missing !== undefined) throw new ConnectError(`no agent ${missing}`, Code.NotFound);
  }
  if (!selector.isEmpty) {
    for (let after = ""; ;) {
      const chunk = await agents.list({ afterId: after, limit: SCAN_CHUNK });
      for (const row of chunk) if (row.revoked_at === null && selector.matches(labelsOfRow(row))) byId.set(row.id, row);
      if (chunk.length < SCAN_CHUNK) break;
      after = chunk.at(-1)!.id;
    }
  }
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
