import type { Pool } from "pg";
import { DatabaseTooNewError, migrations } from "../migrations.js";
import type { Migration } from "../migrations.js";

/** The table that records how many migrations a PostgreSQL schema has had. */
export const VERSION_TABLE = "bg_schema_version";

/**
 * Applies the pending migrations to `schema` in one transaction, under a transaction-scoped
 * advisory lock keyed by the schema: replicas starting together migrate once, the others wait
 * and find nothing to do. A schema newer than the code is refused with both versions named.
 * Resolves to the version found (`before`, 0 for a new schema) and the version now.
 */
export async function migratePostgres(
  pool: Pool,
  schema: string,
  list: readonly Pick<Migration, "name" | "pg">[] = migrations,
): Promise<{ before: number; version: number }> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    try {
      await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [
        `bg-agent:migrate:${schema}`,
      ]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await client.query(`SET LOCAL search_path TO "${schema}"`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${VERSION_TABLE} (version BIGINT NOT NULL, applied_at BIGINT NOT NULL)`,
      );
      const row = (
        await client.query<{ version: string }>(
          `SELECT max(version) AS version FROM ${VERSION_TABLE}`,
        )
      ).rows[0];
      const current = row?.version == null ? 0 : Number(row.version);
      if (current > list.length) {
        throw new DatabaseTooNewError(
          current,
          list.length,
          `point DATABASE_URL (or its schema) at another database`,
        );
      }
      for (const m of list.slice(current)) if (m.pg.trim()) await client.query(m.pg);
      if (current < list.length) {
        await client.query(`DELETE FROM ${VERSION_TABLE}`);
        await client.query(`INSERT INTO ${VERSION_TABLE} (version, applied_at) VALUES ($1, $2)`, [
          list.length,
          Date.now(),
        ]);
      }
      await client.query("COMMIT");
      return { before: current, version: list.length };
    } catch (e) {
      await client.query("ROLLBACK").catch(() => {});
      throw e;
    }
  } finally {
    client.release();
  }
}
