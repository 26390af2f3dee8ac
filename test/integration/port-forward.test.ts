import { createHash } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, type Client } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { PortForward, type ForwardedConnection } from "../../client/port-forward.js";
import { createTechnicianClient } from "../../client/technician-client.js";
import type { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { ForwardAuditStore, openDatabase, parseDatabaseUrl, type Db } from "../../server/store/index.js";
import { startAgentRig, type AgentRig } from "../../testkit/agent-rig.js";
import { SERVER_VARIANTS } from "../../testkit/server-variants.js";
import type { Dialect } from "../../testkit/test-databases.js";
import { until } from "../support/until.js";

/**
 * A server on 127.0.0.1 (the agent's side: the agent runs on this machine). `sockets` holds the
 * connections whose peer (the agent) has not ended them yet.
 */
async function targetServer(onConnection: (socket: net.Socket) => void) {
  const sockets = new Set<net.Socket>();
  const all = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    all.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.once("end", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    onConnection(socket);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    async stop() {
      for (const s of all) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Connects to a forward's local port; resolves once connected. */
async function connectLocal(port: number): Promise<net.Socket> {
  const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
  await once(socket, "connect");
  return socket;
}

/** Resolves when the socket has closed, with how: "reset" (ECONNRESET, as a failed forward ends it) or "closed". */
function closedHow(socket: net.Socket): Promise<"reset" | "closed"> {
  let reset = false;
  socket.on("error", (err: NodeJS.ErrnoException) => (reset = err.code === "ECONNRESET"));
  socket.resume();
  return new Promise((resolve) => socket.once("close", () => resolve(reset ? "reset" : "closed")));
}

/** Everything a socket sends until it ends. */
async function readAll(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of socket) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The bulk test's size per store. Its bytes never reach the store (a forwarded connection is one audit row,
 * written when it ends), so the full 256 MiB runs once and the other store sends a smaller amount through
 * the same path: still 32 times the forward's 1 MiB window each way.
 */
const BULK_MIB: Record<Dialect, number> = { sqlite: 256, mysql: 32 };

describe.each(SERVER_VARIANTS)("port forwarding through a real server and agent on $label", (variant) => {
  const { dialect, serverFlags } = variant;
  let rig: AgentRig;
  let work: string;
  let db: Db;
  let tech: Client<typeof TunnelService>;
  let admin: Client<typeof TunnelService>;
  let sessionId: string;
  const cleanups: Array<() => Promise<void> | void> = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "rmm-forward-"));
    const policyFile = join(work, "policy.json");
    writeFileSync(
      policyFile,
      JSON.stringify({
        roles: {
          // tech reaches localhost only, by that name; admin has rules for commands but none for forwarding.
          tech: {
            rules: [],
            forward: [
              { host: "localhost", ports: ["*"] },
              { host: "*.invalid", ports: ["80"] },
            ],
          },
          admin: { rules: [{ name: "anything", effect: "allow", program: "*" }] },
        },
      }),
    );
    rig = await startAgentRig(dialect, { serverExtra: ["--policy", policyFile, ...serverFlags], logLevel: "info" });
    db = openDatabase(parseDatabaseUrl(rig.dbUrl));
    tech = createTechnicianClient(rig.url, await rig.mintToken("alice", "tech"));
    admin = createTechnicianClient(rig.url, await rig.mintToken("root", "admin"));
  });
  afterAll(async () => {
    await db?.destroy();
    await rig?.stop();
    rmSync(work, { recursive: true, force: true });
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    if (sessionId) await tech.closeTunnel({ sessionId }).catch(() => undefined);
    sessionId = "";
  });

  /** A session of alice's and a forward on a free local port to localhost:`port` on the agent. */
  async function forwardTo(port: number, host = "localhost") {
    const { session } = await tech.openTunnel({ agentId: rig.agentId });
    sessionId = session!.id;
    const ended: ForwardedConnection[] = [];
    const forward = await PortForward.listen(tech, {
      sessionId,
      specs: [{ listenPort: 0, target: { host, port } }],
      onConnection: (c) => ended.push(c),
    });
    cleanups.push(() => forward.close());
    return { forward, localPort: forward.listeners[0]!.port, ended };
  }

  /** The session's audit rows, once there are `count` (they are written as connections end). */
  async function auditRows(count: number) {
    const store = new ForwardAuditStore(db);
    await until(async () => (await store.forSession(sessionId)).length === count, `${count} forward audit rows`);
    return store.forSession(sessionId);
  }

  async function target(onConnection: (socket: net.Socket) => void) {
    const t = await targetServer(onConnection);
    cleanups.push(() => t.stop());
    return t;
  }

  it("serves HTTP to a real client: keep-alive requests reuse one forwarded connection, concurrent ones get their own", async () => {
    const sockets = new Set<net.Socket>();
    const web = http.createServer((req, res) => res.end(`you asked for ${req.url}`));
    web.on("connection", (s: net.Socket) => sockets.add(s));
    web.listen(0, "127.0.0.1");
    await once(web, "listening");
    cleanups.push(() => new Promise<void>((r) => web.close(() => r())));
    cleanups.push(() => web.closeAllConnections());
    const { localPort, ended } = await forwardTo((web.address() as net.AddressInfo).port);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    cleanups.push(() => agent.destroy());
    const get = (path: string) =>
      new Promise<string>((resolve, reject) => {
        http
          .get({ host: "127.0.0.1", port: localPort, path, agent }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (c: string) => (body += c));
            res.on("end", () => resolve(`${res.statusCode} ${body}`));
          })
          .on("error", reject);
      });
    for (const path of ["/a", "/b", "/c"]) expect(await get(path)).toBe(`200 you asked for ${path}`);
    expect(sockets.size).toBe(1);
    const paths = Array.from({ length: 8 }, (_, i) => `/page/${i}`);
    expect(await Promise.all(paths.map(get))).toEqual(paths.map((p) => `200 you asked for ${p}`));
    expect(sockets.size).toBe(4);
    agent.destroy();
    await until(() => ended.length === 4, "the four connections to end");
    expect(ended.every((c) => !c.error && c.bytesIn > 0 && c.bytesOut > 0)).toBe(true);
    const rows = await auditRows(4);
    expect(rows[0]).toMatchObject({
      technician: "alice",
      role: "tech",
      agent_id: rig.agentId,
      host: "localhost",
      port: (web.address() as net.AddressInfo).port,
      outcome: "completed",
      policy_rule: "roles.tech.forward[0]",
    });
    expect(rows.reduce((n, r) => n + r.bytes_from_target, 0)).toBe(ended.reduce((n, c) => n + c.bytesIn, 0));
    expect(rows.reduce((n, r) => n + r.bytes_to_target, 0)).toBe(ended.reduce((n, c) => n + c.bytesOut, 0));
    expect(rows.every((r) => r.ended_at >= r.started_at)).toBe(true);
  });

  it(`carries ${BULK_MIB[dialect]} MiB both ways byte for byte`, async () => {
    const echo = await target((socket) => socket.pipe(socket));
    const { localPort, ended } = await forwardTo(echo.port);
    const total = BULK_MIB[dialect] * 1024 * 1024;
    const socket = await connectLocal(localPort);
    const sent = createHash("sha256");
    const received = createHash("sha256");
    let got = 0;
    const reading = (async () => {
      for await (const c of socket) {
        received.update(c as Buffer);
        got += (c as Buffer).length;
      }
    })();
    // A pattern that changes with the offset, so a dropped, repeated or reordered chunk changes the hash.
    const chunk = Buffer.alloc(64 * 1024);
    for (let offset = 0; offset < total; offset += chunk.length) {
      chunk.writeUInt32BE(offset, 0);
      chunk.writeUInt32BE(offset ^ 0x5a5a5a5a, chunk.length - 4);
      sent.update(chunk);
      if (!socket.write(Buffer.from(chunk))) await once(socket, "drain");
    }
    socket.end();
    await reading;
    expect(got).toBe(total);
    expect(received.digest("hex")).toBe(sent.digest("hex"));
    await until(() => ended.length === 1, "the connection to end");
    expect(ended[0]).toMatchObject({ bytesOut: total, bytesIn: total });
    expect(ended[0]!.error).toBeUndefined();
  }, 300_000);

  it("passes a half-close on: the client stops writing and still reads the whole answer", async () => {
    // The target answers only once it has seen the end of the request.
    const t = await target((socket) => {
      const chunks: Buffer[] = [];
      socket.on("data", (c: Buffer) => chunks.push(c));
      socket.on("end", () => socket.end(`got ${Buffer.concat(chunks).length} bytes: ${Buffer.concat(chunks)}`));
    });
    const { localPort, ended } = await forwardTo(t.port);
    const socket = await connectLocal(localPort);
    socket.end("question");
    expect((await readAll(socket)).toString()).toBe("got 8 bytes: question");
    await until(() => ended.length === 1, "the connection to end");
    expect(ended[0]!.error).toBeUndefined();
    const rows = await auditRows(1);
    expect(rows[0]).toMatchObject({ outcome: "completed", bytes_to_target: 8, bytes_from_target: 21 });
  });

  it("closes the local connection with a clear error for a refused port and an unresolvable name", async () => {
    const closed = await target(() => undefined);
    const port = closed.port;
    await closed.stop();
    const refused = await forwardTo(port);
    expect(await closedHow(await connectLocal(refused.localPort))).toBe("reset");
    await until(() => refused.ended.length === 1, "the refused connection to be reported");
    expect(refused.ended[0]!.error).toEqual({
      code: Code.Unavailable,
      message: `connection refused by localhost:${port}`,
    });
    await refused.forward.close();
    await tech.closeTunnel({ sessionId });

    // .invalid never resolves (RFC 2606), so nothing leaves this machine.
    const unresolvable = await forwardTo(80, "no-such-host.invalid");
    expect(await closedHow(await connectLocal(unresolvable.localPort))).toBe("reset");
    await until(() => unresolvable.ended.length === 1, "the failed lookup to be reported");
    expect(unresolvable.ended[0]!.error).toEqual({
      code: Code.NotFound,
      message: "no-such-host.invalid does not resolve on the agent (ENOTFOUND)",
    });
  });

  it("refuses a target no forward rule of the role matches, and audits the refusal", async () => {
    const t = await target((socket) => socket.end("should never be reached"));
    // The rule names localhost; 127.0.0.1 is another name for the same place but not what the rule says.
    const { localPort, ended } = await forwardTo(t.port, "127.0.0.1");
    expect(await closedHow(await connectLocal(localPort))).toBe("reset");
    await until(() => ended.length === 1, "the refusal to be reported");
    expect(ended[0]!.error).toEqual({
      code: Code.PermissionDenied,
      message: `role tech may not forward to 127.0.0.1:${t.port}: it matches none of roles.tech.forward (localhost:*, *.invalid:80)`,
    });
    expect(t.sockets.size).toBe(0);
    const rows = await new ForwardAuditStore(db).forSession(sessionId);
    expect(rows).toMatchObject([
      { outcome: "refused", host: "127.0.0.1", channel_id: null, policy_rule: "roles.tech.forward" },
    ]);

    // A role with no forward rules at all may not forward anywhere.
    const { session } = await admin.openTunnel({ agentId: rig.agentId }).catch(async () => {
      await tech.closeTunnel({ sessionId });
      sessionId = "";
      return admin.openTunnel({ agentId: rig.agentId });
    });
    cleanups.push(async () => void (await admin.closeTunnel({ sessionId: session!.id }).catch(() => undefined)));
    const adminEnded: ForwardedConnection[] = [];
    const forward = await PortForward.listen(admin, {
      sessionId: session!.id,
      specs: [{ listenPort: 0, target: { host: "localhost", port: t.port } }],
      onConnection: (c) => adminEnded.push(c),
    });
    cleanups.push(() => forward.close());
    expect(await closedHow(await connectLocal(forward.listeners[0]!.port))).toBe("reset");
    await until(() => adminEnded.length === 1, "the refusal to be reported");
    expect(adminEnded[0]!.error).toEqual({
      code: Code.PermissionDenied,
      message: "role admin may not forward ports: the policy has no roles.admin.forward rules",
    });
  });

  it("keeps one connection moving while another's local reader does not read", async () => {
    const firehose = Buffer.alloc(1024 * 1024, 1);
    const t = await target((socket) => {
      socket.once("data", (first: Buffer) => {
        if (first.toString() === "flood") {
          // Writes as fast as the connection takes it, for as long as it is open.
          const more = () => {
            while (!socket.destroyed && socket.write(firehose));
          };
          socket.on("drain", more);
          more();
        } else {
          socket.write(first);
          socket.pipe(socket);
        }
      });
    });
    const { localPort } = await forwardTo(t.port);
    const stalled = await connectLocal(localPort);
    stalled.pause();
    stalled.write("flood");
    const lively = await connectLocal(localPort);
    // Round trips on the second connection while the first has a full window waiting for its reader.
    for (let i = 0; i < 50; i++) {
      lively.write(`ping ${i};`);
      let got = "";
      while (!got.endsWith(`ping ${i};`)) got += ((await once(lively, "data")) as [Buffer])[0].toString();
    }
    const bulk = Buffer.alloc(16 * 1024 * 1024, 2);
    let back = 0;
    lively.on("data", (c: Buffer) => (back += c.length));
    lively.write(bulk);
    await until(() => back === bulk.length, "16 MiB echoed on the lively connection", 60_000);
    // The stalled reader's data waits under credit: it never read, and nothing failed.
    expect(stalled.readableLength).toBeLessThan(64 * 1024 * 1024);
    stalled.destroy();
    lively.destroy();
  }, 90_000);

  it("closing the session closes every forwarded connection on both ends", async () => {
    const t = await target((socket) => socket.resume());
    const { localPort, ended } = await forwardTo(t.port);
    const locals = await Promise.all([0, 1, 2].map(() => connectLocal(localPort)));
    for (const s of locals) s.write("hello");
    await until(() => t.sockets.size === 3, "three connections at the target");
    const localClosed = locals.map(closedHow);
    await tech.closeTunnel({ sessionId });
    expect(await Promise.all(localClosed)).toEqual(["reset", "reset", "reset"]);
    await until(() => t.sockets.size === 0, "the agent to close every target connection");
    await until(() => ended.length === 3, "three connections reported");
    expect(ended.every((c) => c.error !== undefined)).toBe(true);
    // A connection after the session closed is refused, and the attempt is audited.
    expect(await closedHow(await connectLocal(localPort))).toBe("reset");
    await until(() => ended.length === 4, "the late connection reported");
    expect(ended[3]!.error?.code).toBe(Code.FailedPrecondition);
    const rows = await auditRows(4);
    expect(rows.filter((r) => r.outcome === "failed" && r.channel_id === null)).toHaveLength(1);
    expect(rows.filter((r) => r.channel_id !== null)).toHaveLength(3);
  });
});
