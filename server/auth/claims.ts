import { createContextKey } from "@connectrpc/connect";

export const ROLES = ["tech", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling the technician API, from a verified token. */
export interface Technician {
  /** The token's `sub`. */
  subject: string;
  role: Role;
  /** The call's `x-rmm-via` marker (for example `mcp/example-client/2.0.1`), validated; audited with what the call does. */
  via?: string;
}

/** Token issuer and audiences shared by the issuer and the verifiers. */
export const TOKEN_ISSUER_DEFAULT = "rmm-server";
export const TECHNICIAN_AUDIENCE_DEFAULT = "rmm-api";
export const ENROLLMENT_AUDIENCE = "rmm-enroll";

/** Set by the auth interceptor for TunnelService calls. */
export const technicianKey = createContextKey<Technician | undefined>(undefined, { description: "technician" });
/** The agent a credential proved, with what the server last recorded about it. */
export interface AuthenticatedAgent {
  id: string;
  hostname: string;
  os: string;
  agentVersion: string;
  capabilities: number[];
  /** Labels as last reported and stored. */
  reportedLabels: Record<string, string>;
}

/** Set by the auth interceptor for AgentService.Connect. */
export const agentKey = createContextKey<AuthenticatedAgent | undefined>(undefined, { description: "agent" });
