import { arch, hostname, platform } from "node:os";
import { RMM_VERSION } from "../common/version.js";

/** Reported to the server in hello and at enrollment. */
export const AGENT_VERSION = RMM_VERSION;

export interface AgentInfoFields {
  hostname: string;
  os: string;
  agentVersion: string;
}

export function agentInfo(): AgentInfoFields {
  return { hostname: hostname(), os: `${platform()} ${arch()}`, agentVersion: AGENT_VERSION };
}
