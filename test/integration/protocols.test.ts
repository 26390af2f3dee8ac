import { execFile, execFileSync } from "node:child_process";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGrpcJsClient } from "../../common/grpc-js-service.js";
import {
  ListAgentsRequestSchema,
  OpenTunnelRequestSchema,
  TunnelService,
  type ListAgentsResponse,
} from "../../gen/rmm/v1/tunnel_service_pb.js";
import { create } from "@bufbuild/protobuf";
import { AGENT_MAIN, ManagedProcess } from "../../testkit/managed-process.js";
import { createTestDatabase, DIALECTS, type TestDatabase } from "../../testkit/test-databases.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { runCli } from "../support/run-cli.js";
import { ExitCode } from "../../cli/cli-error.js";

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

describe.each(DIALECTS)("one port, every protocol, on %s", (dialect) => {
  let db: TestDatabase;
  let ts: TestServer;
  let token: string;

  beforeAll(async () => {
    db = await createTestDatabase(dialect);
    ts = await startTestServer(db.url);
    token = await ts.server.issuer.mintTechnician("alice", "tech", 600);
  });
  afterAll(async () => {
    await ts.dispose();
    await db.drop();
  });

  it.each([
    ["gRPC over HTTP/2", () => createGrpcTransport({ baseUrl: ts.url })],
    ["gRPC-Web over HTTP/1.1", () => createGrpcWebTransport({ baseUrl: ts.url, httpVersion: "1.1" })],
    ["Connect over HTTP/2", () => createConnectTransport({ baseUrl: ts.url, httpVersion: "2" })],
    ["Connect over HTTP/1.1", () => createConnectTransport({ baseUrl: ts.url, httpVersion: "1.1" })],
  ])("serves %s", async (_name, transport) => {
    const client = createClient(TunnelService, transport());
    expect((await client.listAgents({}, { headers: auth(token) })).agents).toEqual([]);
    await expect(client.listAgents({})).rejects.toMatchObject({ code: Code.Unauthenticated });
  });

  describe("to a @grpc/grpc-js technician client", () => {
    let client: ReturnType<typeof createGrpcJsClient>;
    beforeAll(() => {
      client = createGrpcJsClient(TunnelService, new URL(ts.url).host, grpc.credentials.createInsecure());
    });
    afterAll(() => client.close());

    const call = <T>(method: string, req: object, token?: string) =>
      new Promise<T>((resolve, reject) => {
        const md = new grpc.Metadata();
        if (token) md.set("authorization", `Bearer ${token}`);
        (client[method] as (r: object, m: grpc.Metadata, cb: (e: grpc.ServiceError | null, v: T) => void) => void)(
          req,
          md,
          (e, v) => (e ? reject(e) : resolve(v)),
        );
      });

    it("lists agents", async () => {
      const res = await call<ListAgentsResponse>("ListAgents", create(ListAgentsRequestSchema), token);
      expect(res.agents).toEqual([]);
    });

    it("gets the same status codes and messages", async () => {
      await expect(call("OpenTunnel", create(OpenTunnelRequestSchema, { agentId: "" }), token)).rejects.toMatchObject({
        code: grpc.status.INVALID_ARGUMENT,
        details: "agent_id is required",
      });
      await expect(call("ListAgents", create(ListAgentsRequestSchema))).rejects.toMatchObject({
        code: grpc.status.UNAUTHENTICATED,
      });
    });
  });
});

describe.each(["file", "url"] as const)("technician tokens checked against a JWKS %s", (source) => {
  let db: TestDatabase;
  let ts: TestServer;
  let dir: string;
  let keyServer: http.Server | undefined;
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "rmm-jwks-"));
    const pair = await generateKeyPair("ES256");
    privateKey = pair.privateKey;
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256" }] });
    let location = join(dir, "jwks.json");
    writeFileSync(location, jwks);
    if (source === "url") {
      // An identity provider's key endpoint, played by a local HTTP server.
      keyServer = http.createServer((_req, res) =>
        res.writeHead(200, { "content-type": "application/json" }).end(jwks),
      );
      await new Promise<void>((r) => keyServer!.listen(0, "127.0.0.1", r));
      location = `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}/.well-known/jwks.json`;
    }
    db = await createTestDatabase("sqlite");
    ts = await startTestServer(db.url, { jwks: location });
  });
  afterAll(async () => {
    await ts.dispose();
    await db.drop();
    keyServer?.closeAllConnections();
    await new Promise<void>((r) => (keyServer ? keyServer.close(() => r()) : r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("accepts tokens from the identity provider's key and refuses the server's own", async () => {
    const client = createClient(TunnelService, createGrpcTransport({ baseUrl: ts.url }));
    const idpToken = await new SignJWT({ role: "admin" })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setSubject("carol")
      .setIssuer("rmm-server")
      .setAudience("rmm-api")
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(privateKey);
    expect((await client.listAgents({}, { headers: auth(idpToken) })).agents).toEqual([]);
    const local = await ts.server.issuer.mintTechnician("alice", "tech", 60);
    await expect(client.listAgents({}, { headers: auth(local) })).rejects.toMatchObject({
      code: Code.Unauthenticated,
      rawMessage: expect.stringMatching(/algorithm/),
    });
  });
});

describe("over TLS", () => {
  let db: TestDatabase;
  let ts: TestServer;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "rmm-tls-"));
    // A self-signed certificate for 127.0.0.1, which clients trust only through the CA file given to them.
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ],
      { stdio: "ignore" },
    );
    db = await createTestDatabase("sqlite");
    ts = await startTestServer(db.url, { tls: { certPath: join(dir, "cert.pem"), keyPath: join(dir, "key.pem") } });
  });
  afterAll(async () => {
    await ts.dispose();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves technicians over https, trusted through the given CA", async () => {
    expect(ts.url).toMatch(/^https:/);
    const token = await ts.server.issuer.mintTechnician("alice", "tech", 60);
    const client = createClient(
      TunnelService,
      createGrpcTransport({ baseUrl: ts.url, nodeOptions: { ca: readFileSync(join(dir, "cert.pem")) } }),
    );
    expect((await client.listAgents({}, { headers: auth(token) })).agents).toEqual([]);
  });

  it("lets a real agent enroll and connect with --ca, and refuses it without", async () => {
    const run = promisify(execFile);
    const state = join(dir, "agent.json");
    const enrollToken = await ts.server.issuer.mintEnrollment(60);
    const untrusted = await run(process.execPath, [
      AGENT_MAIN,
      "enroll",
      "--server",
      ts.url,
      "--token",
      enrollToken,
      "--state",
      state,
    ]).catch((e: { stderr: string }) => e);
    expect((untrusted as { stderr: string }).stderr).toMatch(/^rmm-agent: \[unavailable\] .*self-signed certificate/m);
    await run(process.execPath, [
      AGENT_MAIN,
      "enroll",
      "--server",
      ts.url,
      "--token",
      enrollToken,
      "--state",
      state,
      "--ca",
      join(dir, "cert.pem"),
    ]);
    const agent = new ManagedProcess(AGENT_MAIN, ["run", "--state", state]);
    try {
      await agent.waitForLog((e) => e.msg === "connecting -> heartbeat", "the agent to connect over TLS");
    } finally {
      await agent.stop();
    }
  });

  it("tells a technician what each TLS mistake means: http:// to a TLS server, an untrusted CA, and the fix", async () => {
    const token = await ts.server.issuer.mintTechnician("alice", "tech", 60);
    const home = mkdtempSync(join(tmpdir(), "rmm-tls-home-"));
    const rmm = (args: string[]) =>
      runCli(args, { env: { XDG_CONFIG_HOME: home, RMM_SERVER: "", RMM_TOKEN: "", RMM_CA_FILE: "" } });
    try {
      const cleartext = await rmm(["login", "--server", ts.url.replace("https:", "http:"), "--token", token]);
      expect(cleartext.code).toBe(ExitCode.Unavailable);
      expect(cleartext.stderr).toMatch(
        /^rmm: lost the connection to the server \(.*\): is it still running\?; if the server uses TLS, log in with https:\/\/ \(and --ca FILE for a private CA\)\n$/,
      );
      const untrusted = await rmm(["login", "--server", ts.url, "--token", token]);
      expect(untrusted.code).toBe(ExitCode.Unavailable);
      expect(untrusted.stderr).toMatch(/^rmm: the server's certificate is not trusted \(.*\): pass --ca FILE/);
      const trusted = await rmm(["login", "--server", ts.url, "--token", token, "--ca", join(dir, "cert.pem")]);
      expect(trusted.code, trusted.stderr).toBe(0);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
