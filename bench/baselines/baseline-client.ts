/**
 * The load side of the bare baselines, run in the harness process: echo
 * round trips, throughput and idle streams against a baseline started with
 * `startBaseline`. The same measurement code serves every baseline kind (see
 * `openEchoConnection`), so their figures differ only by transport.
 *
 * @example
 * ```ts
 * const server = await startBaseline("connect");
 * try {
 *   const { p50Us } = await measureEchoRtt("connect", server.port, { samples: 2_000, payloadBytes: 64 });
 * } finally {
 *   await server.stop();
 * }
 * ```
 */
import { percentile } from "../scenarios/tunnel-rig.js";
import type { BaselineKind, RpcBaselineKind } from "./baseline-kind.js";
import { openEchoConnection, openUnaryClient, type EchoConnection } from "./open-echo-connection.js";

/**
 * Round trips not timed, here and in the tunnel echo scenario, so connection
 * set-up and JIT warm-up stay out of the figures. Measured here, tunnel echo
 * p50 over consecutive blocks of 1,000 round trips: 1,307, 604, 408, 302,
 * 264, 251 us, then 242-256 us for the next six blocks; three processes'
 * paths take about 5,000 round trips to settle.
 */
const ECHO_WARM_UP_ROUND_TRIPS = 5_000;
/**
 * Bytes sent but not yet echoed back during a throughput run. Bounds the
 * memory a run holds, and at 4 MiB keeps both directions' 1 MiB HTTP/2
 * stream windows full.
 */
const MAX_IN_FLIGHT_BYTES = 4 << 20;
/**
 * Idle streams being set up at once. Well under the listen backlog Node asks
 * for by default (511), so no SYN is dropped and retried a second later.
 */
const ESTABLISH_CONCURRENCY = 200;
/** Payload of the one round trip that proves an idle stream reached the server's handler. */
const HELLO = new Uint8Array([1]);

export interface EchoRttOptions {
  /** Round trips timed, after ECHO_WARM_UP_ROUND_TRIPS untimed ones. */
  samples: number;
  /** Bytes per round trip; the bench uses 64 (a small interactive frame). */
  payloadBytes: number;
}

export interface EchoRtt {
  p50Us: number;
  p99Us: number;
}

/** Sequential round trips on one stream: send `payloadBytes`, wait for all of them back. */
export async function measureEchoRtt(kind: BaselineKind, port: number, opts: EchoRttOptions): Promise<EchoRtt> {
  const conn = await openEchoConnection(kind, port);
  try {
    return await echoRttOn(conn, opts);
  } finally {
    await conn.close();
  }
}

/** measureEchoRtt on a connection the caller opened (the tunnel echo scenario passes its channel). */
export async function echoRttOn(conn: EchoConnection, opts: EchoRttOptions): Promise<EchoRtt> {
  const payload = new Uint8Array(opts.payloadBytes).fill(7);
  const samplesUs: number[] = [];
  for (let i = 0; i < ECHO_WARM_UP_ROUND_TRIPS + opts.samples; i++) {
    const t0 = process.hrtime.bigint();
    await conn.write(payload);
    await receiveBytes(conn, payload.length);
    if (i >= ECHO_WARM_UP_ROUND_TRIPS) samplesUs.push(Number(process.hrtime.bigint() - t0) / 1_000);
  }
  samplesUs.sort((a, b) => a - b);
  return { p50Us: percentile(samplesUs, 50), p99Us: percentile(samplesUs, 99) };
}

/** Sequential unary calls (GetTunnelStatus, which the bare connect server answers with nothing) on one connection, as the technician client makes them. */
export async function measureUnaryRtt(port: number, samples: number): Promise<EchoRtt> {
  const client = openUnaryClient(port);
  try {
    const samplesUs: number[] = [];
    for (let i = 0; i < ECHO_WARM_UP_ROUND_TRIPS + samples; i++) {
      const t0 = process.hrtime.bigint();
      await client.call();
      if (i >= ECHO_WARM_UP_ROUND_TRIPS) samplesUs.push(Number(process.hrtime.bigint() - t0) / 1_000);
    }
    samplesUs.sort((a, b) => a - b);
    return { p50Us: percentile(samplesUs, 50), p99Us: percentile(samplesUs, 99) };
  } finally {
    client.close();
  }
}

export interface ThroughputOptions {
  /** Bytes sent (and echoed back) in the timed run. */
  totalBytes: number;
  /** Bytes per message; the bench uses 64 KiB. */
  chunkBytes: number;
  /**
   * Bytes echoed untimed first, on the same stream. Defaults to 128 MiB:
   * measured here, connect-node's first 256 MiB ran at half its settled rate
   * (JIT warm-up of the client and server code paths).
   */
  warmUpBytes?: number;
}

export interface Throughput {
  /** Echoed payload bytes per second, in 10^6 bytes (as the tunnel echo scenario reports). */
  mbPerSec: number;
}

/** Bytes echoed untimed before a timed throughput run, here and in the tunnel echo scenario. */
const THROUGHPUT_WARM_UP_BYTES = 128 << 20;

/**
 * Sends `totalBytes` on one stream while reading the echo concurrently, with
 * at most 4 MiB in flight; timed from the first write to the last byte back,
 * after an untimed warm-up on the same stream.
 */
export async function measureThroughput(
  kind: BaselineKind,
  port: number,
  opts: ThroughputOptions,
): Promise<Throughput> {
  const conn = await openEchoConnection(kind, port);
  try {
    return await throughputOn(conn, opts);
  } finally {
    await conn.close();
  }
}

/** measureThroughput on a connection the caller opened (the tunnel echo scenario passes its channel). */
export async function throughputOn(conn: EchoConnection, opts: ThroughputOptions): Promise<Throughput> {
  const chunk = new Uint8Array(opts.chunkBytes).fill(7);
  await echoBulk(conn, chunk, opts.warmUpBytes ?? THROUGHPUT_WARM_UP_BYTES);
  const t0 = performance.now();
  await echoBulk(conn, chunk, opts.totalBytes);
  const seconds = (performance.now() - t0) / 1_000;
  return { mbPerSec: opts.totalBytes / seconds / 1e6 };
}

/** Sends `totalBytes` in `chunk`s and reads them back concurrently, keeping at most 4 MiB in flight. */
async function echoBulk(conn: EchoConnection, chunk: Uint8Array, totalBytes: number): Promise<void> {
  let sent = 0;
  let received = 0;
  let wakeWriter: (() => void) | undefined;
  const reading = (async () => {
    while (received < totalBytes) {
      const next = await conn.received.next();
      if (next.done) throw new Error(`echo ended after ${received} of ${totalBytes} bytes`);
      received += next.value.length;
      wakeWriter?.();
    }
  })();
  const writing = (async () => {
    while (sent < totalBytes) {
      const n = Math.min(chunk.length, totalBytes - sent);
      while (sent - received + n > MAX_IN_FLIGHT_BYTES) {
        // Racing the reader, so a failed read fails the writer instead of leaving it waiting.
        await Promise.race([new Promise<void>((resolve) => (wakeWriter = resolve)), reading]);
      }
      await conn.write(n === chunk.length ? chunk : chunk.subarray(0, n));
      sent += n;
    }
  })();
  await Promise.all([writing, reading]);
}

export interface IdleStreamOptions {
  /**
   * Connections per stream. Only 1: each stream on its own HTTP/2
   * connection, as every real agent holds its own. Defaults to 1.
   */
  connectionsPerStream?: 1;
}

export interface IdleStreams {
  /** From the first connect to the last stream's first echo. */
  establishMs: number;
  /** Ends every stream and its connection. */
  close(): Promise<void>;
}

/**
 * Opens `count` bidi streams, each on its own connection, and resolves once
 * every one has carried one echo round trip (so the server holds each
 * stream in its handler); they then stay idle until `close()`.
 */
export async function holdIdleStreams(
  kind: RpcBaselineKind,
  port: number,
  count: number,
  opts: IdleStreamOptions = {},
): Promise<IdleStreams> {
  if ((opts.connectionsPerStream ?? 1) !== 1)
    throw new Error("holdIdleStreams supports one connection per stream only");
  const held: EchoConnection[] = [];
  const closeAll = async () => {
    await Promise.all(held.map((c) => c.close()));
  };
  const t0 = performance.now();
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < count && !failed) {
      next++;
      const conn = await openEchoConnection(kind, port);
      held.push(conn);
      await conn.write(HELLO);
      await receiveBytes(conn, HELLO.length);
    }
  };
  const workers = Array.from({ length: Math.min(ESTABLISH_CONCURRENCY, count) }, () =>
    worker().catch((err: unknown) => {
      failed = true;
      throw err;
    }),
  );
  // Every worker settles before any cleanup, so no stream is opened after it.
  const failure = (await Promise.allSettled(workers)).find((r) => r.status === "rejected");
  if (failure) {
    await closeAll();
    throw failure.reason;
  }
  return { establishMs: performance.now() - t0, close: closeAll };
}

/** Reads until `bytes` have come back (TCP may split or merge them). */
async function receiveBytes(conn: EchoConnection, bytes: number): Promise<void> {
  for (let got = 0; got < bytes;) {
    const next = await conn.received.next();
    if (next.done) throw new Error(`echo ended after ${got} of ${bytes} bytes`);
    got += next.value.length;
  }
}
