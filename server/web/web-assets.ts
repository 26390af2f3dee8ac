import { createReadStream, existsSync, statSync } from "node:fs";
import type * as http from "node:http";
import type * as http2 from "node:http2";
import { dirname, extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
/** The part of an HTTP/1.1 or HTTP/2 response this needs. */
interface Response {
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(chunk: string): unknown;
  end(): unknown;
  destroy(): unknown;
}

/**
 * Headers on every console response. The page runs only its own hashed
 * scripts (no inline script, no eval), talks only to this origin
 * (fetch for calls, ws/wss for the stream bridge) and may not be framed.
 * Styles allow 'unsafe-inline' because xterm.js writes its theme and row
 * styles into <style> elements it creates at run time; a style cannot run code.
 */
export const WEB_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; " +
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
};

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
};

/** Vite names files under assets/ by their content hash, so they never change under a name. */
const IMMUTABLE = "public, max-age=31536000, immutable";
/** index.html names the current hashes: revalidate it on every load. */
const REVALIDATE = "no-cache";

/** `web/dist` beside the package root, whether this runs from source (server/web) or from dist/server/web. */
export function defaultWebRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 4; up++, dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return join(dir, "web", "dist");
  }
  return join(dirname(fileURLToPath(import.meta.url)), "web", "dist");
}

/**
 * Serves the built console for GET and HEAD requests outside the RPC paths
 * (`/<package>.<Service>/<Method>` for each of `rpcPackages`, e.g. "rmm" and
 * "grpc"). Answers true when it handled the request.
 */
export function webAssets(root: string, rpcPackages: readonly string[]): (req: Request, res: Response) => boolean {
  const rpcPrefixes = rpcPackages.map((name) => `/${name}.`);
  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const path = decodeURIComponentSafe((req.url ?? "/").split("?")[0] ?? "/");
    if (path === undefined || rpcPrefixes.some((prefix) => path.startsWith(prefix))) return false;
    const relative = path === "/" ? "index.html" : normalize(path).replace(/^[/\\]+/, "");
    const file = join(root, relative);
    const headers: Record<string, string> = { ...WEB_SECURITY_HEADERS };
    if (!file.startsWith(root + sep) || !isFile(file)) {
      const built = isFile(join(root, "index.html"));
      res.writeHead(404, { ...headers, "content-type": "text/plain; charset=utf-8" });
      res.end(built ? "not found\n" : "the web console is not built: run `npm run build`\n");
      return true;
    }
    headers["content-type"] = CONTENT_TYPES[extname(file)] ?? "application/octet-stream";
    headers["cache-control"] = relative.startsWith(`assets${sep}`) ? IMMUTABLE : REVALIDATE;
    headers["content-length"] = String(statSync(file).size);
    res.writeHead(200, headers);
    if (req.method === "HEAD") {
      res.end();
      return true;
    }
    createReadStream(file)
      .once("error", () => res.destroy())
      .pipe(res as unknown as NodeJS.WritableStream);
    return true;
  };
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    // A missing or unreadable file is a 404, nothing more.
    return false;
  }
}

function decodeURIComponentSafe(path: string): string | undefined {
  try {
    return decodeURIComponent(path);
  } catch {
    // A malformed escape names no file of ours.
    return undefined;
  }
}
