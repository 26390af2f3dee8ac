import { spawn, type ChildProcess } from "node:child_process";
import * as net from "node:net";

const NATS_SERVER = process.env.RMM_TEST_NATS_SERVER ?? "/usr/sbin/nats-server";
const READY_TIMEOUT_MS = 10_000;

/**
 * A nats-server of a test's own on its own port on 127.0.0.1, for tests that
 * take NATS down: killed by pid, never the machine's server on 4222.
 *
 * ```ts
 * const nats = await PrivateNats.start();  // nats://127.0.0.1:PORT
 * await nats.kill();                       // the outage
 * await nats.restart();                    // the recovery, same port
 * ```
 */
export class PrivateNats {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(readonly port: number) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<PrivateNats> {
    const nats = new PrivateNats(await freePort());
    await nats.restart();
    return nats;
  }

  async restart(): Promise<void> {
    if (this.child) return;
    const child = spawn(NATS_SERVER, ["-a", "127.0.0.1", "-p", String(this.port)], { stdio: "ignore" });
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!(await answers(this.port))) {
      if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode} on port ${this.port}`);
      if (Date.now() > deadline) throw new Error(`nats-server did not answer on ${this.port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGKILL by pid; resolves once it is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    child.kill("SIGKILL");
    await this.exited;
  }
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
