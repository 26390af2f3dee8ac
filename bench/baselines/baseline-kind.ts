/**
 * The bare baselines every benchmark figure is compared with, measured in the
 * same run on the same machine:
 *
 * - `connect`: a bare connect-node server (what rmm-server is built on),
 * - `grpcjs`: a bare @grpc/grpc-js server (what the agent's client is built on),
 * - `tcp`: a raw `node:net` loopback echo (the floor under any HTTP/2 stack).
 */
export type BaselineKind = "connect" | "grpcjs" | "tcp";

/** The baselines that speak gRPC, and so can hold idle bidi streams. */
export type RpcBaselineKind = Exclude<BaselineKind, "tcp">;

/** Loopback only: baselines are never reachable from outside the machine. */
export const BASELINE_HOST = "127.0.0.1";
