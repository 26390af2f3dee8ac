/**
 * The one place that knows what driver errors mean. mysql2 and better-sqlite3
 * report the same conditions with different codes; callers ask questions
 * instead of matching codes.
 */

function codeOf(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}

const UNIQUE_CODES = new Set(["ER_DUP_ENTRY", "SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"]);

/** A unique or primary key constraint refused the write. */
export function isUniqueViolation(err: unknown): boolean {
  return UNIQUE_CODES.has(codeOf(err) ?? "");
}

const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "EAI_AGAIN",
  "PROTOCOL_CONNECTION_LOST",
  "PROTOCOL_SEQUENCE_TIMEOUT",
  "ER_CON_COUNT_ERROR",
  "ER_SERVER_SHUTDOWN",
  "ER_LOCK_WAIT_TIMEOUT",
  "ER_LOCK_DEADLOCK",
  "SQLITE_BUSY",
  "SQLITE_LOCKED",
  "SQLITE_CANTOPEN",
  "SQLITE_IOERR",
  "SQLITE_FULL",
]);

/** The database cannot be reached or is overloaded: worth retrying later, not a bug. */
export function isStoreUnavailable(err: unknown): boolean {
  const code = codeOf(err);
  if (code !== undefined && (UNAVAILABLE_CODES.has(code) || code.startsWith("SQLITE_IOERR"))) return true;
  // mysql2 marks errors that killed the connection as fatal.
  return typeof err === "object" && err !== null && (err as { fatal?: unknown }).fatal === true;
}
