import { createClient, type Client, type Transport } from "@connectrpc/connect";
// The subpath, not the package root: the root loads all of jose (46 files) for this one function.
import { decodeJwt } from "jose/jwt/decode";
import { createTechnicianTransport } from "../client/technician-client.js";
import { TunnelService } from "../gen/rmm/v1/tunnel_service_pb.js";
import { loadConfig, type CliConfig } from "./cli-config.js";
import { CliError, ExitCode } from "./cli-error.js";

/** What every command that talks to the server needs. */
export interface CliContext {
  config: CliConfig;
  client: Client<typeof TunnelService>;
  /**
   * The connection `client` uses. Fleet job commands build their JobService
   * client on it (see jobsClient): booting job_service.proto's descriptors
   * costs every other command start-up time for nothing.
   */
  transport: Transport;
  /** The token's subject: sessions it opened are ours to reuse. */
  subject: string;
}

/** Claims read from the token without verifying it: only the server can verify; this is for messages and session reuse. */
export function tokenClaims(
  token: string,
  source = "the stored token",
): { subject: string; role: string; expiresAt: Date | undefined } {
  let claims: ReturnType<typeof decodeJwt>;
  try {
    claims = decodeJwt(token);
  } catch {
    throw new CliError(
      `${source} is not a JWT (three base64url parts separated by dots): rmm-server token --sub NAME mints one`,
      ExitCode.Config,
    );
  }
  return {
    subject: claims.sub ?? "",
    role: typeof claims["role"] === "string" ? claims["role"] : "tech",
    expiresAt: claims.exp === undefined ? undefined : new Date(claims.exp * 1000),
  };
}

export function cliContext(): CliContext {
  const config = loadConfig();
  const { subject, expiresAt } = tokenClaims(config.token, tokenSource());
  if (expiresAt && expiresAt.getTime() <= Date.now()) {
    throw new CliError(
      `token expired at ${expiresAt.toISOString()}: run rmm login --token NEW_TOKEN`,
      ExitCode.Unauthenticated,
    );
  }
  const transport = createTechnicianTransport(
    config.server,
    config.token,
    config.caFile ? { caFile: config.caFile } : {},
  );
  return {
    config,
    client: createClient(TunnelService, transport),
    transport,
    subject,
  };
}

/** Where the token in use came from, named in messages about it. */
export function tokenSource(env: NodeJS.ProcessEnv = process.env): string {
  return env["RMM_TOKEN"] ? "RMM_TOKEN" : "the stored token";
}
