import { createClient, type Client } from "@connectrpc/connect";
import { JobService } from "../gen/rmm/v1/job_service_pb.js";
import { createTechnicianTransport, type TechnicianClientOptions } from "./technician-client.js";

/**
 * A JobService client (see createTechnicianTransport). Its own file so that
 * importing the TunnelService client does not boot job_service.proto's
 * descriptors too.
 */
export function createJobClient(
  baseUrl: string,
  token: string,
  options: TechnicianClientOptions = {},
): Client<typeof JobService> {
  return createClient(JobService, createTechnicianTransport(baseUrl, token, options));
}
