import { createContextKey } from "@connectrpc/connect";

export const ROLES = ["tech", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling the technician API, from a verified token. */
export interface Technician {
  /** The token's `sub`. */
  subject: string;
  role: Role;
}

/** Token issuer and audiences shared by the issuer and the verifiers. */
export const TOKEN_ISSUER_DEFAULT = "rmm-server";
export const TECHNICIAN_AUDIENCE_DEFAULT = "rmm-api";
export const ENROLLMENT_AUDIENCE = "rmm-enroll";

/** Set by the auth interceptor for TunnelService calls. */
export const technicianKey = createContextKey<Technician | undefined>(undefined, { description: "technician" });
/** Set by the auth interceptor for AgentService.Connect: the id the credential was issued for. */
export const agentIdKey = createContextKey<string | undefined>(undefined, { description: "agent id" });
