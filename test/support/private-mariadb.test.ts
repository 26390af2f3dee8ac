import { createConnection } from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrivateMariaDb } from "./private-mariadb.js";

describe("a private MariaDB", () => {
  let maria: PrivateMariaDb;
  beforeAll(async () => {
    maria = await PrivateMariaDb.create();
  });
  afterAll(async () => {
    await maria?.dispose();
  });

  it("keeps its data across a SIGKILL and a restart on the same port, and refuses connections while down", async () => {
    const url = await maria.createDatabase();
    const c = await createConnection(url);
    await c.query("create table t (n int primary key) engine=innodb");
    await c.query("insert into t values (1)");
    await c.end();

    await maria.kill();
    expect(maria.running).toBe(false);
    await expect(createConnection(url)).rejects.toThrow(/ECONNREFUSED/);

    await maria.start();
    const again = await createConnection(url);
    const [rows] = await again.query("select n from t");
    await again.end();
    expect(rows).toEqual([{ n: 1 }]);
  });

  it("requires a password for a user that has one (the grant tables are on)", async () => {
    const c = await createConnection(maria.url);
    await c.query("create user 'probe'@'127.0.0.1' identified by 'secret'");
    await c.end();
    await expect(createConnection(`mysql://probe:wrong@127.0.0.1:${maria.port}`)).rejects.toThrow(/Access denied/);
  });
});
