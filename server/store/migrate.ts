import { Migrator, type MigrationResultSet } from "kysely";
import type { Db } from "./database.js";
import { migrations } from "../../migrations/index.js";

export interface MigrationOutcome {
  applied: string[];
}

function migratorFor(db: Db): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => ({ ...migrations }) },
  });
}

// Migrator never throws: it reports failure in `error`, which must be checked.
function check(result: MigrationResultSet, what: string): MigrationOutcome {
  const applied = (result.results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
  if (result.error) {
    const failed = result.results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    const cause = result.error instanceof Error ? result.error.message : String(result.error);
    throw new Error(`${what} failed at migration ${failed}: ${cause}`, { cause: result.error });
  }
  return { applied };
}

export async function migrateToLatest(db: Db): Promise<MigrationOutcome> {
  return check(await migratorFor(db).migrateToLatest(), "migrating to latest");
}

export async function migrateTo(db: Db, name: string): Promise<MigrationOutcome> {
  return check(await migratorFor(db).migrateTo(name), `migrating to ${name}`);
}

export async function migrateAllDown(db: Db): Promise<MigrationOutcome> {
  const migrator = migratorFor(db);
  const outcome: MigrationOutcome = { applied: [] };
  for (;;) {
    const step = check(await migrator.migrateDown(), "migrating down");
    if (step.applied.length === 0) return outcome;
    outcome.applied.push(...step.applied);
  }
}

export const migrationNames: readonly string[] = Object.keys(migrations).sort();

/** Migrations this build knows that the database has not applied (a read of kysely's migration table). */
export async function pendingMigrations(db: Db): Promise<string[]> {
  return (await migratorFor(db).getMigrations()).filter((m) => m.executedAt === undefined).map((m) => m.name);
}
