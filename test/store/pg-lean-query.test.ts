import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PgStore } from "../../src/store/postgres/index.js";
import { Exec } from "../../src/store/postgres/pg-exec.js";
import { postgresAvailable, throwawayPgStore } from "../helpers/postgres.js";

const up = await postgresAvailable();

/** Counts the Describe messages the pool's clients send. */
function countDescribes(s: PgStore): { n: number } {
  const seen = { n: 0 };
  const wrapped = new WeakSet<object>();
  s.pool.on("acquire", (client) => {
    const c = (client as unknown as { connection: { describe(m: unknown): void } }).connection;
    if (wrapped.has(c)) return;
    wrapped.add(c);
    const describe = c.describe.bind(c);
    c.describe = (m) => {
      seen.n++;
      describe(m);
    };
  });
  return seen;
}

describe.skipIf(!up)("statements in a transaction on PostgreSQL", () => {
  let s: PgStore;
  let describes: { n: number };
  beforeAll(async () => {
    s = await throwawayPgStore({ poolSize: 1 });
    describes = countDescribes(s);
    await s.pool.query(
      "CREATE TABLE lean (id BIGINT PRIMARY KEY, name TEXT, note TEXT, flag BOOLEAN, n NUMERIC)",
    );
  });
  afterAll(async () => s?.close());

  const x = (): Exec => new Exec(s.pool, s.pool);
  const SELECT = "SELECT id, name, note AS someNote, flag, n FROM lean WHERE id >= ? ORDER BY id";

  it("return the rows pg would, typed as the store's pool types them, with the result described once per connection", async () => {
    await x().tx(async (t) => {
      await t.run("INSERT INTO lean (id, name, note, flag, n) VALUES (?, ?, ?, ?, ?)", [
        1,
        "one",
        null,
        true,
        "12.5",
      ]);
      await t.run("INSERT INTO lean (id, name, note, flag, n) VALUES (?, ?, ?, ?, ?)", [
        2,
        "two",
        "x",
        false,
        3,
      ]);
    });
    const before = describes.n;
    const reads = [];
    for (let i = 0; i < 3; i++)
      reads.push(
        await x().tx(async (t) => {
          await t.get("SELECT 1 AS one"); // the transaction's first statement (sent with BEGIN)
          return await t.all(SELECT, [1]);
        }),
      );
    const expected = [
      { id: 1, name: "one", someNote: null, flag: true, n: 12.5 },
      { id: 2, name: "two", someNote: "x", flag: false, n: 3 },
    ];
    expect(reads).toEqual([expected, expected, expected]);
    // The one connection described each statement once: the SELECT on its first execution, the
    // first statement on its second (prepared by the first, then sent under one Sync with BEGIN).
    expect(describes.n - before).toBe(2);
    // Outside a transaction, pg's own query (which describes every time) gives the same rows.
    expect(await x().all(SELECT, [1])).toEqual(expected);
    expect(describes.n - before).toBe(3);
  });

  it("count the rows a write changed, and a statement that failed on its first run works on its next", async () => {
    const changed = await x().tx(async (t) => {
      await t.get("SELECT 1 AS one");
      return await t.run("UPDATE lean SET note = ? WHERE id <= ?", ["y", 2]);
    });
    expect(changed).toBe(2);
    const insert = "INSERT INTO lean (id, name) VALUES (?, ?) RETURNING id";
    await expect(
      x().tx(async (t) => {
        await t.get("SELECT 1 AS one");
        return await t.get(insert, [1, "duplicate"]);
      }),
    ).rejects.toThrow(/duplicate key/);
    const row = await x().tx(async (t) => {
      await t.get("SELECT 1 AS one");
      return await t.get<{ id: number }>(insert, [3, "three"]);
    });
    expect(row).toEqual({ id: 3 });
  });

  it("a transaction whose first statement (sent with BEGIN) fails is rolled back, and the connection serves the next", async () => {
    const div = "SELECT id / ? AS q FROM lean WHERE id = ?";
    const first = (d: number) =>
      x().tx(async (t) => {
        const row = await t.get<{ q: number }>(div, [d, 2]);
        await t.run("UPDATE lean SET note = ? WHERE id = ?", [`after ${d}`, 2]);
        return row;
      });
    expect(await first(1)).toEqual({ q: 2 }); // prepares it on the one connection
    const before = Exec.roundTrips;
    await expect(first(0)).rejects.toThrow(/division by zero/);
    // BEGIN with the statement, then ROLLBACK: two round trips, nothing written.
    expect(Exec.roundTrips - before).toBe(2);
    expect((await s.pool.query("SELECT note FROM lean WHERE id = 2")).rows).toEqual([
      { note: "after 1" },
    ]);
    expect(await first(2)).toEqual({ q: 1 });
  });

  it("a table changed under a described statement is refused by PostgreSQL, never read with the old columns", async () => {
    const star = "SELECT * FROM lean WHERE id = ?";
    const read = () =>
      x().tx(async (t) => {
        await t.get("SELECT 1 AS one");
        return await t.get<Record<string, unknown>>(star, [3]);
      });
    expect(Object.keys((await read())!)).toEqual(["id", "name", "note", "flag", "n"]);
    await s.pool.query("ALTER TABLE lean ADD COLUMN extra TEXT DEFAULT 'e'");
    await expect(read()).rejects.toThrow(/cached plan must not change result type/);
  });
});
