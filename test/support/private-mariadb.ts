import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createConnection } from "mysql2/promise";
import { until } from "./until.js";

const run = promisify(execFile);

/** Debian's paths for the daemon and its bootstrap script. */
const MARIADBD = "/usr/sbin/mariadbd";
const INSTALL_DB = "/usr/bin/mariadb-install-db";
/** A fresh InnoDB takes a few seconds to start on a busy 2-core machine. */
const STARTUP_TIMEOUT_MS = 30_000;

export interface PrivateMariadb {
  /** `mysql://root@127.0.0.1:PORT/rmm`: a database the server's --db accepts. */
  url: string;
  /** SIGKILLs the daemon by its pid and waits for it to exit (an outage; the data dir survives). */
  kill(): Promise<void>;
  /** Starts the daemon again on the same port and data dir; resolves once it answers. */
  start(): Promise<void>;
  /** Kills it and removes its data dir. */
  dispose(): Promise<void>;
}

/**
 * A MariaDB of the test's own (own data dir, own port, no grant tables, no
 * networking past 127.0.0.1), for tests that take the database down: the
 * machine's MariaDB on 3306 is never touched.
 */
export async function startPrivateMariadb(): Promise<PrivateMariadb> {
  const dir = mkdtempSync(join(tmpdir(), "rmm-mariadb-"));
  const dataDir = join(dir, "data");
  await run(INSTALL_DB, [
    "--no-defaults",
    `--datadir=${dataDir}`,
    "--user=root",
    "--auth-root-authentication-method=normal",
    "--skip-test-db",
  ]);
  const port = await freePort();
  let child: ChildProcess | undefined;
  const answers = async () => {
    try {
      const c = await createConnection({ host: "127.0.0.1", port, user: "root", connectTimeout: 1_000 });
      await c.end();
      return true;
    } catch {
      return false;
    }
  };
  const start = async () => {
    const proc = spawn(
      MARIADBD,
      [
        "--no-defaults",
        `--datadir=${dataDir}`,
        "--user=root",
        `--port=${port}`,
        "--bind-address=127.0.0.1",
        `--socket=${join(dir, "mysqld.sock")}`,
        `--pid-file=${join(dir, "mysqld.pid")}`,
        `--log-error=${join(dir, "error.log")}`,
        "--skip-grant-tables",
        "--skip-log-bin",
        "--innodb-buffer-pool-size=16M",
      ],
      { stdio: "ignore" },
    );
    child = proc;
    await until(
      async () => {
        if (proc.exitCode !== null) throw new Error(`mariadbd exited with ${proc.exitCode}; see ${dir}/error.log`);
        return answers();
      },
      `the private mariadbd on port ${port} to answer`,
      STARTUP_TIMEOUT_MS,
    );
  };
  const kill = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    process.kill(proc.pid!, "SIGKILL");
    await exited;
  };
  try {
    await start();
    const c = await createConnection({ host: "127.0.0.1", port, user: "root" });
    await c.query("CREATE DATABASE rmm");
    await c.end();
  } catch (err) {
    await kill();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `mysql://root@127.0.0.1:${port}/rmm`,
    kill,
    start,
    async dispose() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
