/**
 * Echo round trip and throughput through a real tunnel: a real rmm-server
 * process and a real rmm-agent process on 127.0.0.1 (SQLite store), a
 * technician client in this process. Run with `npm run bench:echo`.
 *
 *   --round-trips N   64-byte round trips to time (default 2000)
 *   --megabytes N     bytes to push through for throughput (default 256)
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { ChannelClient } from "../client/channel-client.js";
import { createTechnicianClient } from "../client/technician-client.js";
import { ChannelType } from "../gen/rmm/v1/frame_pb.js";
import { loadOrCreateSigningSecret } from "../server/auth/signing-secret.js";
import { TokenIssuer } from "../server/auth/token-issuer.js";
import { AGENT_MAIN, ManagedProcess, startServerProcess } from "../test/support/managed-process.js";

const { values } = parseArgs({ options: { "round-trips": { type: "string", default: "2000" }, megabytes: { type: "string", default: "256" } } });
const roundTrips = Number(values["round-trips"]);
const totalBytes = Number(values.megabytes) * 1024 * 1024;

const dir = mkdtempSync(join(tmpdir(), "rmm-bench-"));
const progress = (msg: string) => process.stderr.write(`# ${msg}\n`);
const server = await startServerProcess({ dataDir: join(dir, "server"), db: `sqlite:${join(dir, "rmm.sqlite")}` });
let agent: ManagedProcess | undefined;
try {
  const issuer = new TokenIssuer(loadOrCreateSigningSecret(join(dir, "server")).secret, "rmm-server", "rmm-api");
  const statePath = join(dir, "agent.json");
  const { stdout } = await promisify(execFile)(process.execPath, [AGENT_MAIN, "enroll", "--server", server.url, "--token", await issuer.mintEnrollment(60), "--state", statePath]);
  const agentId = /enrolled as (\S+);/.exec(stdout)![1]!;
  agent = new ManagedProcess(AGENT_MAIN, ["run", "--state", statePath]);
  await agent.waitForLog((e) => e.msg === "connecting -> heartbeat", "agent online");
  const token = await issuer.mintTechnician("bench", "tech", 3_600);
  const client = createTechnicianClient(server.url, token);
  const { session } = await client.openTunnel({ agentId });

  progress(`timing ${roundTrips} round trips of 64 bytes`);
  const rtt = await ChannelClient.open(client, { sessionId: session!.id, type: ChannelType.ECHO });
  const reader = rtt.data()[Symbol.asyncIterator]();
  const small = new Uint8Array(64);
  const samples: number[] = [];
  for (let i = 0; i < roundTrips + 100; i++) {
    const t0 = process.hrtime.bigint();
    await rtt.write(small);
    for (let got = 0; got < small.length; ) got += (await reader.next()).value!.length;
    if (i >= 100) samples.push(Number(process.hrtime.bigint() - t0) / 1_000);
  }
  rtt.close();
  samples.sort((a, b) => a - b);
  const pct = (p: number) => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))]!;

  progress(`pushing ${totalBytes / 1024 / 1024} MiB through an echo channel in 64 KiB chunks`);
  const bulk = await ChannelClient.open(client, { sessionId: session!.id, type: ChannelType.ECHO });
  const chunk = new Uint8Array(64 * 1024).fill(7);
  const t0 = performance.now();
  const reading = (async () => {
    let got = 0;
    for await (const c of bulk.data()) if ((got += c.length) >= totalBytes) return;
  })();
  for (let sent = 0; sent < totalBytes; sent += chunk.length) await bulk.write(chunk);
  await reading;
  const seconds = (performance.now() - t0) / 1000;
  bulk.close();
  await client.closeTunnel({ sessionId: session!.id });

  const rows = [
    ["echo round trip p50 (64 B, technician -> server -> agent -> back)", `${pct(50).toFixed(0)} us`],
    ["echo round trip p99", `${pct(99).toFixed(0)} us`],
    ["echo throughput (each way, 64 KiB chunks)", `${(totalBytes / seconds / 1e6).toFixed(1)} MB/s`],
  ];
  process.stdout.write(`| figure | value |\n| --- | --- |\n${rows.map(([k, v]) => `| ${k} | ${v} |`).join("\n")}\n`);
} finally {
  await agent?.stop();
  await server.proc.stop();
  rmSync(dir, { recursive: true, force: true });
}
