import { createClient, type Client } from "@connectrpc/connect";
import { JobService } from "../gen/rmm/v1/job_service_pb.js";
import type { CliContext } from "./cli-context.js";

/** Fleet jobs over the context's connection (same server, token and TLS settings). */
export function jobsClient(ctx: CliContext): Client<typeof JobService> {
  return createClient(JobService, ctx.transport);
}
