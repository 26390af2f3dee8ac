import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NODE_ID_PATTERN } from "./call-envelope.js";

export const NODE_ID_FILE = "node-id";

/**
 * This node's id when `--node-id` is not given: made once and kept in the
 * data dir, so a restarted node is the same node (and closes only what its
 * own earlier run left). Nodes sharing one data dir must each pass --node-id.
 */
export function loadOrCreateNodeId(dataDir: string): string {
  const path = join(dataDir, NODE_ID_FILE);
  try {
    const id = readFileSync(path, "utf8").trim();
    if (!NODE_ID_PATTERN.test(id))
      throw new Error(`${path} holds "${id.slice(0, 80)}", not a node id (${NODE_ID_PATTERN})`);
    return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const id = `node-${randomUUID().slice(0, 8)}`;
  try {
    writeFileSync(path, id + "\n", { mode: 0o600, flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return loadOrCreateNodeId(dataDir);
    throw err;
  }
  return id;
}

/** A --node-id as given, or why it cannot be one. */
export function checkNodeId(id: string): string {
  if (!NODE_ID_PATTERN.test(id))
    throw new Error(
      `--node-id "${id.slice(0, 80)}" must be 1-64 letters, digits, "-" or "_" (it is a NATS subject token)`,
    );
  return id;
}
