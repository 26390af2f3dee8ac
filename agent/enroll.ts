import { DEFAULT_CHANNELS } from "./agent.js";
import { createGrpcTransport } from "./grpc-transport.js";
import { writeState } from "./state-file.js";
import type { AgentInfoFields } from "./agent-info.js";

export interface EnrollOptions {
  server: string;
  token: string;
  /** Where the state file goes (mode 0600). */
  state: string;
  /** PEM CA that signs the server's certificate; the system roots when absent. */
  ca?: string;
  /** Labels the agent reports from its first stream on, kept in the state file; none when absent. */
  labels?: Record<string, string>;
  info: AgentInfoFields;
}

/** Exchanges an enrollment token for this endpoint's own id and credential, and stores them. */
export async function enroll(opts: EnrollOptions): Promise<string> {
  const transport = createGrpcTransport(opts.server, opts.ca ? { caFile: opts.ca } : {});
  try {
    const res = await transport.enroll({
      $typeName: "rmm.v1.EnrollRequest",
      enrollmentToken: opts.token,
      info: {
        $typeName: "rmm.v1.AgentInfo",
        ...opts.info,
        capabilities: [...DEFAULT_CHANNELS.keys()],
        labels: {},
        jobSteps: true,
      },
    });
    writeState(opts.state, {
      server: opts.server,
      agentId: res.agentId,
      credential: res.credential,
      ...(opts.ca ? { caFile: opts.ca } : {}),
      ...(opts.labels && Object.keys(opts.labels).length > 0 ? { labels: opts.labels } : {}),
    });
    return res.agentId;
  } finally {
    transport.close();
  }
}
