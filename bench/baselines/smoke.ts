/**
 * A quick self-check of the bare baselines: starts each one, measures echo
 * round trips and throughput, holds idle streams (each on its own
 * connection, counted on the server's side with `ss`) and prints a table.
 * A script, not a test: nothing here asserts a time.
 *
 *   node dist/bench/baselines/smoke.js [--streams 1000] [--mib 128]
 */
import { execFile } from "node:child_process";
import { parseArgs, promisify } from "node:util";
import { holdIdleStreams, measureEchoRtt, measureThroughput } from "./baseline-client.js";
import type { BaselineKind } from "./baseline-kind.js";
import { startBaseline } from "./spawn-baseline.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const ROUND_TRIPS = 2_000;
const RTT_PAYLOAD_BYTES = 64;
const CHUNK_BYTES = 64 * KiB;

const { values } = parseArgs({
  options: { streams: { type: "string", default: "1000" }, mib: { type: "string", default: "128" } },
});
const idleStreams = Number(values.streams);
const totalBytes = Number(values.mib) * MiB;

interface Row {
  kind: BaselineKind;
  p50Us: number;
  p99Us: number;
  mbPerSec: number;
  idle?: { establishMs: number; rssPerStreamKiB: number; heapPerStreamKiB: number; serverConnections: number };
}

const progress = (msg: string) => process.stderr.write(`# ${msg}\n`);

/** Established TCP connections whose local port is `port`: the server's side of every client connection. */
async function countServerConnections(port: number): Promise<number> {
  const { stdout } = await promisify(execFile)("ss", ["-Htn", "state", "established", `( sport = :${port} )`], {
    maxBuffer: 64 * MiB,
  });
  return stdout.split("\n").filter(Boolean).length;
}

async function measure(kind: BaselineKind): Promise<Row> {
  progress(`${kind}: ${ROUND_TRIPS} round trips of ${RTT_PAYLOAD_BYTES} B, then ${totalBytes / MiB} MiB`);
  const server = await startBaseline(kind);
  let row: Row;
  try {
    const rtt = await measureEchoRtt(kind, server.port, { samples: ROUND_TRIPS, payloadBytes: RTT_PAYLOAD_BYTES });
    const tput = await measureThroughput(kind, server.port, { totalBytes, chunkBytes: CHUNK_BYTES });
    row = { kind, ...rtt, ...tput };
  } finally {
    await server.stop();
  }
  if (kind === "tcp") return row;

  // A fresh server, so the throughput run's buffers do not blur the per-stream memory.
  progress(`${kind}: ${idleStreams} idle streams, each on its own connection`);
  const idleServer = await startBaseline(kind);
  try {
    const before = await idleServer.memoryAfterGc();
    const held = await holdIdleStreams(kind, idleServer.port, idleStreams);
    try {
      const serverConnections = await countServerConnections(idleServer.port);
      const after = await idleServer.memoryAfterGc();
      row.idle = {
        establishMs: held.establishMs,
        rssPerStreamKiB: (after.rss - before.rss) / idleStreams / KiB,
        heapPerStreamKiB: (after.heapUsed - before.heapUsed) / idleStreams / KiB,
        serverConnections,
      };
    } finally {
      await held.close();
    }
  } finally {
    await idleServer.stop();
  }
  return row;
}

const rows: Row[] = [];
for (const kind of ["connect", "grpcjs", "tcp"] as const) rows.push(await measure(kind));

const fmt = (n: number | undefined, digits = 1) => (n === undefined ? "-" : n.toFixed(digits));
process.stdout.write(
  [
    "| baseline | echo p50 (us) | echo p99 (us) | throughput (MB/s) " +
      `| ${idleStreams} idle streams: establish (ms) | server RSS per stream (KiB) ` +
      "| server heap per stream (KiB) | server TCP connections |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map(
      (r) =>
        `| ${r.kind} | ${fmt(r.p50Us)} | ${fmt(r.p99Us)} | ${fmt(r.mbPerSec)} | ${fmt(r.idle?.establishMs, 0)} ` +
        `| ${fmt(r.idle?.rssPerStreamKiB)} | ${fmt(r.idle?.heapPerStreamKiB)} | ${r.idle?.serverConnections ?? "-"} |`,
    ),
  ].join("\n") + "\n",
);

const shared = rows.filter((r) => r.idle && r.idle.serverConnections < idleStreams);
if (shared.length > 0) {
  process.stderr.write(
    `streams shared connections: ${shared.map((r) => `${r.kind} ${r.idle!.serverConnections}/${idleStreams}`).join(", ")}\n`,
  );
  process.exitCode = 1;
}
