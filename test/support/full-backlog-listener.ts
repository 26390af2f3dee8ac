import { spawn } from "node:child_process";
import { once } from "node:events";
import * as net from "node:net";

/**
 * A port on 127.0.0.1 where a connect never completes: a child process listens
 * with a backlog of 1 and then blocks its event loop, so it never accepts; two
 * connections fill the kernel's accept queue and every later SYN is dropped.
 * For connect timeouts without sending anything off this machine.
 */
export async function startFullBacklogListener(): Promise<{ port: number; stop(): Promise<void> }> {
  const script = `const s = require("node:net").createServer();
s.listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () =>
  process.stdout.write(s.address().port + "\\n", () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120000)));`;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  const [line] = (await once(child.stdout, "data")) as [Buffer];
  const port = Number(line.toString().trim());
  const fillers = [0, 1].map(() => net.connect(port, "127.0.0.1"));
  await Promise.all(fillers.map((s) => once(s, "connect")));
  return {
    port,
    async stop() {
      for (const s of fillers) s.destroy();
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
    },
  };
}
