import { arch, homedir, hostname, platform } from "node:os";
import { RMM_VERSION } from "../common/version.js";

/** Reported to the server in hello and at enrollment. */
export const AGENT_VERSION = RMM_VERSION;

export interface AgentInfoFields {
  hostname: string;
  os: string;
  agentVersion: string;
  /** Where relative remote paths start (AgentInfo.home_directory); "" when the user has none. */
  homeDirectory: string;
}

export function agentInfo(): AgentInfoFields {
  return { hostname: hostname(), os: `${platform()} ${arch()}`, agentVersion: AGENT_VERSION, homeDirectory: home() };
}

/** os.homedir() throws when the user has no passwd entry and no HOME (a bare container uid). */
function home(): string {
  try {
    return homedir();
  } catch {
    return "";
  }
}
