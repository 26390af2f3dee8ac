import { AuditStore } from "./audit-store.js";
import type { Db } from "./database.js";
import { SessionStore } from "./session-store.js";

/** The stores a unit of work may touch, bound to one transaction. */
export interface TxStores {
  sessions: SessionStore;
  audit: AuditStore;
}

/** Runs `fn` in one transaction: one commit (one fsync on InnoDB) for all it writes, and all or nothing. */
export type Transact = <T>(fn: (tx: TxStores) => Promise<T>) => Promise<T>;

export function transactor(db: Db): Transact {
  return (fn) => db.transaction().execute((trx) => fn({ sessions: new SessionStore(trx), audit: new AuditStore(trx) }));
}
