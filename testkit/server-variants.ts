import { DIALECTS, type Dialect } from "./test-databases.js";

/** One way to run the server under an integration suite. */
export interface ServerVariant {
  dialect: Dialect;
  /** Whether binary gRPC calls take the fast path (server/fast-path/). */
  fastPath: boolean;
  /** `rmm-server serve` flags for it. */
  serverFlags: string[];
  /** For test names: "sqlite, fast path" or "mysql, connect-node only". */
  label: string;
}

/**
 * What the integration suites that start a real server run on: every database
 * dialect, and the transport with and without the fast path
 * (`rmm-server serve --no-fast-path`). The two dimensions alternate (sqlite
 * with the fast path, mysql without) instead of multiplying: the store and the
 * transport are independent layers, so each value of each is covered and a
 * suite takes as long as it did with dialects alone.
 * grpc-fast-path-parity.test.ts compares the two transports call by call.
 */
export const SERVER_VARIANTS: readonly ServerVariant[] = DIALECTS.map((dialect, i) => {
  const fastPath = i % 2 === 0;
  return {
    dialect,
    fastPath,
    serverFlags: fastPath ? [] : ["--no-fast-path"],
    label: `${dialect}, ${fastPath ? "fast path" : "connect-node only"}`,
  };
});
