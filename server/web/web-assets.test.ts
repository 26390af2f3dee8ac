import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webAssets, WEB_SECURITY_HEADERS } from "./web-assets.js";

describe("web assets", () => {
  let dir: string;
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "rmm-web-"));
    const root = join(dir, "dist");
    mkdirSync(join(root, "assets"), { recursive: true });
    writeFileSync(join(root, "index.html"), "<!doctype html><title>x</title>");
    writeFileSync(join(root, "assets", "index-abc.js"), "export {};");
    writeFileSync(join(dir, "secret.txt"), "outside the root");
    const serve = webAssets(root, ["rmm", "grpc"]);
    server = http.createServer((req, res) => {
      if (!serve(req, res)) res.writeHead(418).end("not an asset");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves / as index.html, revalidated, with every security header", async () => {
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-cache");
    for (const [name, value] of Object.entries(WEB_SECURITY_HEADERS)) expect(res.headers.get(name)).toBe(value);
  });

  it("serves hashed assets as immutable", async () => {
    const res = await fetch(`${base}/assets/index-abc.js`);
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(res.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await res.text()).toBe("export {};");
  });

  it("never serves a file outside its root", async () => {
    for (const path of ["/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt"]) {
      const res = await fetch(`${base}${path}`);
      expect(await res.text()).not.toContain("outside the root");
    }
  });

  it("leaves RPC paths and non-GET requests to the API", async () => {
    expect((await fetch(`${base}/rmm.v1.TunnelService/ListAgents`)).status).toBe(418);
    expect((await fetch(`${base}/grpc.health.v1.Health/Check`)).status).toBe(418);
    expect((await fetch(`${base}/`, { method: "POST" })).status).toBe(418);
  });
});
