import { arch, hostname, platform } from "node:os";

/** Reported to the server in hello and at enrollment. */
export const AGENT_VERSION = "0.1.0";

export interface AgentInfoFields {
  hostname: string;
  os: string;
  agentVersion: string;
}

export function agentInfo(): AgentInfoFields {
  return { hostname: hostname(), os: `${platform()} ${arch()}`, agentVersion: AGENT_VERSION };
}
