import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../../common/logger.js";
import type { Readiness } from "./readiness.js";
import type { ServerMetrics } from "./server-metrics.js";

export interface MetricsListener {
  /** e.g. http://127.0.0.1:9464 */
  url: string;
  close(): Promise<void>;
}

/**
 * Prometheus scrapes and orchestrator probes, on a port of their own: it is
 * unauthenticated, so it is off unless `--metrics-listen` names an address,
 * and never shares the API port.
 *
 * - `GET /metrics`: the exposition text.
 * - `GET /healthz`: 200 while the process serves HTTP at all (liveness).
 * - `GET /readyz`: 200 when every readiness check passes, else 503; the body
 *   names each check and what failed.
 */
export async function startMetricsListener(
  address: { host: string; port: number },
  deps: { metrics: ServerMetrics; readiness: Readiness; log: Logger },
): Promise<MetricsListener> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const reply = (status: number, contentType: string, body: string) => {
      res.writeHead(status, { "content-type": contentType, "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return reply(405, "text/plain", "use GET\n");
    if (path === "/healthz") return reply(200, "text/plain", "ok\n");
    if (path === "/readyz") {
      void deps.readiness.report().then((report) => {
        const lines = report.checks.map((c) => `${c.name}: ${c.ok ? "ok" : `failed: ${c.error ?? "unknown"}`}`);
        reply(report.ready ? 200 : 503, "text/plain", `${report.ready ? "ready" : "not ready"}\n${lines.join("\n")}\n`);
      });
      return;
    }
    if (path === "/metrics") {
      deps.metrics.scrape().then(
        ({ body, contentType }) => reply(200, contentType, body),
        (err: unknown) => {
          deps.log.error({ err }, "metrics collection failed");
          reply(500, "text/plain", "metrics collection failed; see the server log\n");
        },
      );
      return;
    }
    reply(404, "text/plain", "not found: try /metrics, /healthz or /readyz\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: address.port, host: address.host }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = address.host.includes(":") ? `[${address.host}]` : address.host;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
