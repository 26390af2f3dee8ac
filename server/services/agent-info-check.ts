import { Code, ConnectError } from "@connectrpc/connect";
import { labelsProblem } from "../../common/labels.js";
import type { AgentInfo } from "../../gen/rmm/v1/agent_service_pb.js";
import type { AgentInfoFields } from "../store/index.js";

/**
 * What an agent may say about itself, at enrollment and in every hello: the
 * sizes of the `agents` columns (hostname: the longest name DNS allows). An
 * unchecked hello once stored a 1 MB hostname, and two of them made every
 * ListAgents too large to send.
 */
export const AGENT_INFO_LIMITS = {
  hostname: 253,
  os: 255,
  agentVersion: 64,
  /** Far more channel types than exist; the column holds their JSON in 1024 bytes. */
  capabilities: 32,
} as const;

/** `info` checked and trimmed, or InvalidArgument naming the field and its limit (never echoing the value). */
export function checkAgentInfo(info: AgentInfo | undefined, where: string): AgentInfoFields {
  const hostname = info?.hostname.trim() ?? "";
  if (hostname === "") throw new ConnectError(`${where}.hostname is required`, Code.InvalidArgument);
  const fields: AgentInfoFields = {
    hostname,
    os: info?.os ?? "",
    agentVersion: info?.agentVersion ?? "",
    // A copy of exactly its length: a decoded repeated field keeps room to grow (17 slots for one
    // entry), and the server holds this list for the stream's life.
    capabilities: info?.capabilities.slice() ?? [],
    labels: { ...info?.labels },
  };
  for (const name of ["hostname", "os", "agentVersion"] as const) {
    if (fields[name].length > AGENT_INFO_LIMITS[name])
      throw new ConnectError(
        `${where}.${snake(name)} is ${fields[name].length} characters; at most ${AGENT_INFO_LIMITS[name]} are allowed`,
        Code.InvalidArgument,
      );
  }
  if (fields.capabilities.length > AGENT_INFO_LIMITS.capabilities)
    throw new ConnectError(
      `${where}.capabilities lists ${fields.capabilities.length} entries; at most ${AGENT_INFO_LIMITS.capabilities} are allowed`,
      Code.InvalidArgument,
    );
  const problem = labelsProblem(fields.labels);
  if (problem) throw new ConnectError(`${where}.labels: ${problem}`, Code.InvalidArgument);
  return fields;
}

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * Longest home directory an agent may report: far past any real one, and small
 * enough that a full ListAgents page (1000 agents) stays well under 4 MiB.
 */
export const MAX_HOME_DIRECTORY_CHARS = 1024;

/**
 * hello.info.home_directory checked: empty (not reported), or an absolute
 * POSIX or Windows path of at most MAX_HOME_DIRECTORY_CHARS; InvalidArgument
 * otherwise, without echoing the value.
 */
export function checkHomeDirectory(info: AgentInfo | undefined, where: string): string {
  const home = info?.homeDirectory ?? "";
  if (home.length > MAX_HOME_DIRECTORY_CHARS)
    throw new ConnectError(
      `${where}.home_directory is ${home.length} characters; at most ${MAX_HOME_DIRECTORY_CHARS} are allowed`,
      Code.InvalidArgument,
    );
  if (home && !home.startsWith("/") && !/^[A-Za-z]:[\\/]/.test(home))
    throw new ConnectError(`${where}.home_directory is not an absolute path`, Code.InvalidArgument);
  return home;
}
