import type { Client } from "@connectrpc/connect";
import { parseDuration } from "../common/duration.js";
import type { TunnelService } from "../gen/rmm/v1/tunnel_service_pb.js";
import { resolveAgent } from "./agent-resolver.js";
import { CliError, ExitCode } from "./cli-error.js";

/* The flags rmm audit and rmm sessions share: time bounds, a limit, an agent. */

/** `--since 1h` (that long ago) or an ISO time (2026-12-01T09:00Z), as epoch ms. */
export function parseTimeBound(value: string, flag: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?\s*[a-z]+$/i.test(value)) return now - parseDuration(value, flag);
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new Error(`${flag} ${value} is neither a duration (1h, 30m) nor a time (2026-12-01T09:00Z)`);
  return ms;
}

export function parseLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--limit ${value} is not a positive whole number`);
  return n;
}

/** An agent that is still enrolled by any of its names; a removed one only by its full id, which the trail keeps. */
export async function agentIdOf(client: Client<typeof TunnelService>, name: string): Promise<string> {
  try {
    return (await resolveAgent(client, name)).id;
  } catch (err) {
    if (err instanceof CliError && err.exitCode === ExitCode.NotFound) return name;
    throw err;
  }
}
