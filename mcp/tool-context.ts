import type { Client } from "@connectrpc/connect";
import type { JobService } from "../gen/rmm/v1/job_service_pb.js";
import type { TunnelService } from "../gen/rmm/v1/tunnel_service_pb.js";
import type { CommandRegistry } from "./command-registry.js";
import type { TunnelSessionPool } from "./tunnel-session-pool.js";

/** What every tool of one MCP session works with. */
export interface ToolContext {
  /** Sends the technician's token and the MCP `via` marker on every call. */
  client: Client<typeof TunnelService>;
  /** Fleet jobs, over the same transport (so the same token and marker). */
  jobs: Client<typeof JobService>;
  sessions: TunnelSessionPool;
  commands: CommandRegistry;
}
