import type { LogEvent } from "kysely";

/** Told of every database statement once it finished (metrics listen; the store does not know them). */
export interface QueryObserver {
  /** `operation`: select, insert, update, delete or other (DDL, raw SQL). */
  queryFinished(operation: string, seconds: number, failed: boolean): void;
}

const OPERATIONS: Record<string, string> = {
  SelectQueryNode: "select",
  InsertQueryNode: "insert",
  UpdateQueryNode: "update",
  DeleteQueryNode: "delete",
};

/** Kysely's `log` hook, which times each statement (errors included) without wrapping the driver. */
export function queryLogHook(observer: QueryObserver): (event: LogEvent) => void {
  return (event) =>
    observer.queryFinished(
      OPERATIONS[event.query.query.kind] ?? "other",
      event.queryDurationMillis / 1000,
      event.level === "error",
    );
}
