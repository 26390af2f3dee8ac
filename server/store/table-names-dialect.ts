import {
  DEFAULT_MIGRATION_LOCK_TABLE,
  DEFAULT_MIGRATION_TABLE,
  MysqlDialect,
  sql,
  type DatabaseIntrospector,
  type DatabaseMetadata,
  type DatabaseMetadataOptions,
  type Kysely,
  type SchemaMetadata,
  type TableMetadata,
} from "kysely";

/**
 * MySQL dialect whose introspector lists table names only. kysely's Migrator
 * asks `getTables()` whether its migration table exists, on every migrate and
 * every readiness probe (`pendingMigrations`); the stock introspector answers
 * with a join over `information_schema.columns`, which opens every table's
 * definition. That is wasted work for a yes/no question, and MariaDB 10.11 has
 * been seen to crash (signal 11 in `get_all_tables`) running it while other
 * connections drop databases. `SHOW FULL TABLES` reads names and types alone.
 */
export class TableNamesMysqlDialect extends MysqlDialect {
  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new TableNamesIntrospector(db, super.createIntrospector(db));
  }
}

class TableNamesIntrospector implements DatabaseIntrospector {
  constructor(
    private readonly db: Kysely<unknown>,
    private readonly full: DatabaseIntrospector,
  ) {}

  getSchemas(): Promise<SchemaMetadata[]> {
    return this.full.getSchemas();
  }

  async getTables(options?: DatabaseMetadataOptions): Promise<TableMetadata[]> {
    // Columns are `Tables_in_<database>` and `Table_type`, so read them by position.
    const { rows } = await sql<Record<string, string>>`show full tables`.execute(this.db);
    const tables = rows.map((row) => {
      const [name = "", type = ""] = Object.values(row);
      return { name, isView: type === "VIEW", columns: [] };
    });
    if (options?.withInternalKyselyTables) return tables;
    return tables.filter((t) => t.name !== DEFAULT_MIGRATION_TABLE && t.name !== DEFAULT_MIGRATION_LOCK_TABLE);
  }

  async getMetadata(options?: DatabaseMetadataOptions): Promise<DatabaseMetadata> {
    return { tables: await this.getTables(options) };
  }
}
