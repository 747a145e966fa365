import { describe, expect, it } from "vitest";
import pg from "pg";
import { openStoreFromEnv, StoreOpenError } from "../../src/store/open.js";
import { migratePostgres } from "../../src/store/postgres/pg-migrate.js";
import { migrations } from "../../src/store/migrations.js";
import { poolConfig } from "../../src/store/postgres/index.js";
import {
  dropSchema,
  postgresAvailable,
  TEST_DATABASE_URL,
  throwawaySchema,
} from "../helpers/postgres.js";

const up = await postgresAvailable();

describe("openStoreFromEnv", () => {
  it("without DATABASE_URL opens SQLite at BG_DB_PATH", async () => {
    const store = await openStoreFromEnv({ BG_DB_PATH: ":memory:" });
    expect(store.dialect).toBe("sqlite");
    await store.close();
  });

  it("an unreachable DATABASE_URL is a StoreOpenError naming host and database, never the password", async () => {
    const err = await openStoreFromEnv({
      DATABASE_URL: "postgres://bg:s3cret-pw@127.0.0.1:1/bgdb",
      BG_DB_PATH: ":memory:",
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreOpenError);
    const msg = (err as Error).message;
    expect(msg).toContain("postgres://127.0.0.1:1/bgdb");
    expect(msg).not.toContain("s3cret-pw");
    expect(msg.split("\n")).toHaveLength(1);
  });

  it("a URL of another scheme is refused, not treated as SQLite", async () => {
    await expect(openStoreFromEnv({ DATABASE_URL: "mysql://u:p@h/db" })).rejects.toThrow(
      /postgres:\/\/ or postgresql:\/\//,
    );
  });

  it.skipIf(!up)("a database that does not exist is named", async () => {
    const url = TEST_DATABASE_URL.replace(/\/[^/]*$/, "/bg_no_such_db");
    await expect(openStoreFromEnv({ DATABASE_URL: url })).rejects.toThrow(/bg_no_such_db/);
  });
});

describe.skipIf(!up)("PostgreSQL migrations", () => {
  it("replicas starting together migrate once; a newer database is refused with both versions", async () => {
    const schema = throwawaySchema();
    const pools = [0, 1, 2].map(() => new pg.Pool(poolConfig({ url: TEST_DATABASE_URL, schema })));
    try {
      const versions = await Promise.all(pools.map((p) => migratePostgres(p, schema)));
      // One of them found an empty schema; the others found it migrated.
      expect(versions.map((v) => v.version)).toEqual([
        migrations.length,
        migrations.length,
        migrations.length,
      ]);
      expect(versions.map((v) => v.before).sort((a, b) => a - b)).toEqual([
        0,
        migrations.length,
        migrations.length,
      ]);
      const n = await pools[0]!.query("SELECT count(*)::int AS n FROM bg_schema_version");
      expect(n.rows[0]).toEqual({ n: 1 });
      await pools[0]!.query("UPDATE bg_schema_version SET version = 99");
      const err = await openStoreFromEnv({
        DATABASE_URL: TEST_DATABASE_URL,
        BG_DB_SCHEMA: schema,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreOpenError);
      expect((err as Error).message).toContain(
        `schema version 99, but this bg-agent knows only up to ${migrations.length}`,
      );
      expect((err as Error).message).toContain("upgrade bg-agent");
    } finally {
      await Promise.all(pools.map((p) => p.end()));
      await dropSchema(schema);
    }
  });
});
