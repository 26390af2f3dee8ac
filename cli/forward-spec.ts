import { forwardTargetOf } from "../common/forward-target.js";
import type { ForwardSpec } from "../client/port-forward.js";

/** An address in a spec: a name, an IPv4 address or a bracketed IPv6 address. */
const ADDRESS = String.raw`(\[[^\]]+\]|[^:\[\]]+)`;
const SPEC = new RegExp(String.raw`^(?:${ADDRESS}:)?(\d+):${ADDRESS}:(\d+)$`);

/**
 * `[LOCAL_ADDR:]LOCAL_PORT:HOST:PORT`, as ssh -L writes it: `8080:localhost:80`,
 * `0:10.0.0.5:3389` (0 picks a free local port), `[::1]:5432:localhost:5432`.
 * Throws an Error saying what is wrong (the CLI turns it into a usage error).
 */
export function parseForwardSpec(text: string): ForwardSpec {
  const m = SPEC.exec(text);
  if (!m)
    throw new Error(
      `${JSON.stringify(text)} is not [LOCAL_ADDR:]LOCAL_PORT:HOST:PORT (for example 8080:localhost:80 or 0:10.0.0.5:3389)`,
    );
  const [, listenHost, localPort, host, port] = m;
  const listenPort = Number(localPort);
  if (listenPort > 65_535) throw new Error(`local port ${listenPort} in ${text} is over 65535`);
  const unbracket = (a: string) => a.replace(/^\[(.*)\]$/, "$1");
  let target;
  try {
    target = forwardTargetOf({ $typeName: "rmm.v1.TcpParams", host: unbracket(host!), port: Number(port) });
  } catch (err) {
    throw new Error(`${text}: ${(err as { rawMessage?: string }).rawMessage ?? String(err)}`);
  }
  return { ...(listenHost !== undefined && { listenHost: unbracket(listenHost) }), listenPort, target };
}
