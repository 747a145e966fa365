import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PgStore } from "../../src/store/postgres/index.js";
import { Exec, inlineSql } from "../../src/store/postgres/pg-exec.js";
import { openStoreFromEnv, readStoreEnv, StoreOpenError } from "../../src/store/open.js";
import {
  dropSchema,
  postgresAvailable,
  TEST_DATABASE_URL,
  throwawayPgStore,
  throwawaySchema,
} from "../helpers/postgres.js";

const up = await postgresAvailable();

describe("inlineSql", () => {
  it("writes parameters in as quoted literals, never touching a ? inside the SQL's own strings", () => {
    expect(
      inlineSql("SELECT a AS fullName FROM t WHERE b = ? AND c = '?' AND d = ? AND e = ?", [
        "it's \\ ? here",
        42,
        null,
      ]),
    ).toBe(
      `SELECT a AS "fullName" FROM t WHERE b =  E'it''s \\\\ ? here' AND c = '?' AND d = '42' AND e = NULL`,
    );
  });

  it("quotes the SQL's camelCase aliases, never text of the same shape inside a value", () => {
    expect(inlineSql("SELECT ? AS fullName", ["x AS fooBar"])).toBe(
      `SELECT 'x AS fooBar' AS "fullName"`,
    );
  });

  it("declines values it cannot write as a literal, and a parameter count that does not match", () => {
    expect(inlineSql("SELECT ?", [Buffer.from("x")])).toBeUndefined();
    expect(inlineSql("SELECT ?", [{ a: 1 }])).toBeUndefined();
    expect(inlineSql("SELECT ?", [Number.NaN])).toBeUndefined();
    expect(inlineSql("SELECT ?, ?", ["one"])).toBeUndefined();
  });
});

describe.skipIf(!up)("a transaction's BEGIN on PostgreSQL", () => {
  let s: PgStore;
  beforeAll(async () => {
    s = await throwawayPgStore();
  });
  afterAll(async () => s?.close());

  it("rides with the first statement; a transaction that ran nothing costs no round trip", async () => {
    const before = Exec.roundTrips;
    await s.tx(async () => undefined);
    expect(Exec.roundTrips - before).toBe(0);
    const mid = Exec.roundTrips;
    await s.tx(async (t) => {
      await t.deliveries.record({ id: "d-1", event: "issues", action: "opened", repo: "o/r" });
      await t.repos.get("o/r");
    });
    // BEGIN + the record, the read, COMMIT
    expect(Exec.roundTrips - mid).toBe(3);
    expect(await s.deliveries.has("d-1")).toBe(true);
  });

  it("still isolates: a failure after the first statement rolls it back", async () => {
    await expect(
      s.tx(async (t) => {
        await t.deliveries.record({ id: "d-2", event: "issues", action: null, repo: null });
        await t.deliveries.record({ id: "d-3", event: "issues", action: null, repo: null });
        throw new Error("handler failed");
      }),
    ).rejects.toThrow("handler failed");
    expect(await s.deliveries.has("d-2")).toBe(false);
    expect(await s.deliveries.has("d-3")).toBe(false);
  });

  it("a first statement whose values cannot be inlined sends BEGIN on its own, in the same transaction", async () => {
    const x = new Exec(s.pool, s.pool);
    const before = Exec.roundTrips;
    const [bytes, sameTx] = await x.tx(async (t) => {
      const row = await t.get<{ n: number }>("SELECT octet_length(?::bytea) AS n", [
        Buffer.from("abc"),
      ]);
      const a = await t.get<{ id: string }>("SELECT txid_current()::text AS id");
      const b = await t.get<{ id: string }>("SELECT txid_current()::text AS id");
      return [row?.n, a?.id === b?.id];
    });
    expect(bytes).toBe(3);
    expect(sameTx).toBe(true);
    // BEGIN, the bytea statement, two reads, COMMIT
    expect(Exec.roundTrips - before).toBe(5);
  });
});

describe.skipIf(!up)("a transaction's first statement on PostgreSQL", () => {
  let s: PgStore;
  beforeAll(async () => {
    s = await throwawayPgStore({ poolSize: 1 });
  });
  afterAll(async () => s?.close());

  const prepared = (t: Exec) =>
    t.get<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement LIKE ?",
      ["%octet_length(%"],
    );

  it("runs as the connection's prepared statement, prepared with BEGIN the first time", async () => {
    const x = new Exec(s.pool, s.pool);
    const sql = "SELECT octet_length(?) + ? AS n";
    const before = Exec.roundTrips;
    for (let i = 0; i < 3; i++) {
      const [row, count] = await x.tx(async (t) => [
        await t.get<{ n: number }>(sql, ["abc", i]),
        await prepared(t),
      ]);
      expect(row?.n).toBe(3 + i);
      expect(count?.n).toBe(1);
    }
    // Per transaction: BEGIN + the statement, the check, COMMIT.
    expect(Exec.roundTrips - before).toBe(9);
    // The driver knows it: the same statement outside a transaction is not prepared again.
    expect(await x.get<{ n: number }>(sql, ["ab", 1])).toEqual({ n: 3 });
  });

  it("behind a transaction-mode pooler, is written out with its values: nothing prepared with SQL", async () => {
    const x = new Exec(s.pool, s.pool, null, false);
    const sql = "SELECT octet_length(?) * ? AS n";
    for (let i = 1; i < 3; i++) {
      const [row, count] = await x.tx(async (t) => [
        await t.get<{ n: number }>(sql, ["abc", i]),
        await t.get<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement LIKE ?",
          ["%octet_length(%*%"],
        ),
      ]);
      expect(row?.n).toBe(3 * i);
      expect(count?.n).toBe(0);
    }
  });

  it("a failing first statement that prepared leaves no connection the driver misjudges", async () => {
    const x = new Exec(s.pool, s.pool);
    const sql = "SELECT octet_length(?) / ? AS n";
    await expect(x.tx((t) => t.get(sql, ["abc", 0]))).rejects.toThrow(/division by zero/);
    // The one connection was not reused (its statement may exist): both ways of sending work.
    expect(await x.tx((t) => t.get<{ n: number }>(sql, ["abcd", 2]))).toEqual({ n: 2 });
    expect(await x.get<{ n: number }>(sql, ["abcdef", 2])).toEqual({ n: 3 });
    expect(await x.tx((t) => t.get<{ n: number }>(sql, ["ab", 2]))).toEqual({ n: 1 });
  });
});

describe("BG_DB_POOLER", () => {
  it("is session or transaction", () => {
    expect(readStoreEnv({ BG_DB_POOLER: "transaction" }).BG_DB_POOLER).toBe("transaction");
    expect(readStoreEnv({}).BG_DB_POOLER).toBeUndefined();
    expect(() => readStoreEnv({ BG_DB_POOLER: "pgbouncer" })).toThrow(StoreOpenError);
  });

  it.skipIf(!up)("transaction: a delivery's record is not prepared with SQL", async () => {
    for (const [pooler, expected] of [
      ["transaction", 0],
      ["session", 1],
    ] as const) {
      const schema = throwawaySchema();
      const store = (await openStoreFromEnv({
        DATABASE_URL: TEST_DATABASE_URL,
        BG_DB_SCHEMA: schema,
        BG_DB_POOL_SIZE: "1",
        BG_DB_POOLER: pooler,
      })) as PgStore;
      try {
        const d = { id: "d-1", event: "issues", action: null, repo: "o/r" };
        expect(await store.tx((t) => t.deliveries.record(d))).toBe(true);
        expect(await store.tx((t) => t.deliveries.record(d))).toBe(false);
        const r = await store.pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement LIKE '%INSERT INTO deliveries%'",
        );
        expect({ pooler, prepared: r.rows[0]!.n }).toEqual({ pooler, prepared: expected });
      } finally {
        await store.close();
        await dropSchema(schema);
      }
    }
  });
});
