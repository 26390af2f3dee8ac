import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createConnection } from "mysql2/promise";

const MARIADBD = process.env.RMM_TEST_MARIADBD ?? "/usr/sbin/mariadbd";
const INSTALL_DB = process.env.RMM_TEST_MARIADB_INSTALL_DB ?? "mariadb-install-db";
/** Time for a fresh or crash-recovering server to answer; recovery after SIGKILL took under 2 s here. */
const READY_TIMEOUT_MS = 30_000;
/**
 * Options that shape the files install-db writes; start() passes the same, so the first start resizes
 * nothing. 16 MiB of redo log instead of the default 96 MiB: the data dir is 34 MB instead of 114 MB.
 */
const DATA_FILE_OPTIONS = ["--innodb-log-file-size=16M"];
/** Where initialised data dirs are kept between suites and runs (beside vite's own cache). */
const TEMPLATE_CACHE = resolve("node_modules/.cache/rmm-private-mariadb");

/**
 * A MariaDB server of a test's own, for tests that take the database DOWN:
 * its own data dir under the temp folder, its own port on 127.0.0.1, its own
 * socket, and no option file read (`--no-defaults`), so the machine's server
 * on 3306 is never touched. Root has an empty password over TCP, with the
 * grant tables on (authentication is real).
 *
 * The data dir is a copy of one initialised once (see initialisedTemplate);
 * create one server per suite (`beforeAll`) and a database per test with
 * `createDatabase()`.
 *
 * ```ts
 * const maria = await PrivateMariaDb.create();
 * const url = await maria.createDatabase();   // mysql://root@127.0.0.1:PORT/rmm_...
 * await maria.kill();                          // the outage: SIGKILL by pid
 * await maria.start();                         // the recovery, same port and data
 * await maria.dispose();                       // kill and delete the data dir
 * ```
 */
export class PrivateMariaDb {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private databases = 0;

  private constructor(
    private readonly dir: string,
    /** Fixed for the instance's life, so URLs stay valid across kill() and start(). */
    readonly port: number,
  ) {}

  /** Initialises a fresh data dir and starts the server; resolves once it answers queries. */
  static async create(): Promise<PrivateMariaDb> {
    const dir = mkdtempSync(join(tmpdir(), "rmm-mariadb-"));
    try {
      cpSync(join(initialisedTemplate(), "data"), join(dir, "data"), { recursive: true });
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    const db = new PrivateMariaDb(dir, await freePort());
    try {
      await db.start();
    } catch (err) {
      await db.dispose();
      throw err;
    }
    return db;
  }

  /** Root's server URL, without a database: `mysql://root@127.0.0.1:PORT`. */
  get url(): string {
    return `mysql://root@127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** The server's pid while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the server on the existing data dir (after create() or kill()); resolves once it answers. */
  async start(): Promise<void> {
    if (this.child) return;
    const args = [
      "--no-defaults",
      `--datadir=${join(this.dir, "data")}`,
      `--port=${this.port}`,
      "--bind-address=127.0.0.1",
      `--socket=${join(this.dir, "mariadb.sock")}`,
      `--pid-file=${join(this.dir, "mariadb.pid")}`,
      `--log-error=${join(this.dir, "error.log")}`,
      "--skip-name-resolve",
      "--skip-log-bin",
      // What Debian's packaged server uses (50-server.cnf), which --no-defaults would not read.
      "--character-set-server=utf8mb4",
      "--collation-server=utf8mb4_general_ci",
      // Small and quick: a test database is tiny and needs no durability beyond the OS cache.
      "--innodb-buffer-pool-size=32M",
      ...DATA_FILE_OPTIONS,
      "--innodb-flush-log-at-trx-commit=2",
      "--max-connections=200",
    ];
    if (process.getuid?.() === 0) args.push("--user=root");
    const child = spawn(MARIADBD, args, { stdio: "ignore" });
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    void this.exited.then(() => {
      if (this.child === child) this.child = undefined;
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (!this.child) throw new Error(`mariadbd exited at start; see ${join(this.dir, "error.log")}`);
      try {
        const c = await createConnection({ host: "127.0.0.1", port: this.port, user: "root", connectTimeout: 1_000 });
        await c.end();
        return;
      } catch (err) {
        if (Date.now() > deadline) {
          await this.kill();
          throw new Error(`mariadbd on port ${this.port} did not answer within ${READY_TIMEOUT_MS} ms`, {
            cause: err,
          });
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** The outage: SIGKILL by pid, resolved once the process is gone (connections drop at once). */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill("SIGKILL");
    await this.exited;
    this.child = undefined;
  }

  /** A fresh, uniquely named database on this server; returns its URL (for the server's --db flag). */
  async createDatabase(): Promise<string> {
    const name = `rmm_${process.pid}_${++this.databases}`;
    const c = await createConnection(this.url);
    try {
      await c.query(`CREATE DATABASE \`${name}\``);
    } finally {
      await c.end();
    }
    return `${this.url}/${name}`;
  }

  /** Kills the server and deletes its data dir. */
  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A data dir as install-db leaves it, made once per MariaDB build and copied for each instance: install-db
 * takes about 5 s of CPU (the system tables and the sys schema), a copy of its 34 MB a fraction of a second.
 * The key names the binaries and options, so an upgraded MariaDB gets a template of its own. Two workers
 * making it at once each build in a staging dir and the first rename wins.
 */
function initialisedTemplate(): string {
  const key = createHash("sha256")
    .update(JSON.stringify([MARIADBD, statSync(MARIADBD).mtimeMs, INSTALL_DB, DATA_FILE_OPTIONS, process.getuid?.()]))
    .digest("hex")
    .slice(0, 16);
  const template = join(TEMPLATE_CACHE, key);
  if (existsSync(join(template, "complete"))) return template;
  mkdirSync(TEMPLATE_CACHE, { recursive: true });
  const staging = mkdtempSync(join(TEMPLATE_CACHE, "staging-"));
  try {
    const init = spawnSync(
      INSTALL_DB,
      [
        "--no-defaults",
        `--datadir=${join(staging, "data")}`,
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
        `--user=${process.env.USER ?? "root"}`,
        ...DATA_FILE_OPTIONS,
      ],
      { encoding: "utf8" },
    );
    if (init.status !== 0)
      throw new Error(`${INSTALL_DB} failed (${init.status}): ${(init.stderr || init.stdout).slice(-2000)}`);
    writeFileSync(join(staging, "complete"), "");
    try {
      renameSync(staging, template);
    } catch (err) {
      // Another worker's rename won (ENOTEMPTY/EEXIST): use its copy.
      if (!existsSync(join(template, "complete"))) throw err;
    }
    return template;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}
