import { describe, expect, it } from "vitest";
import type { Db } from "../../src/store/db.js";
import { openSqlite } from "../../src/store/db.js";
import { createStore } from "../../src/store/index.js";
import { DatabaseTooNewError, migrate, migrations } from "../../src/store/migrations.js";
import { openSqlJs } from "../../src/store/sqljs.js";

// The same checks on both drivers: what passes on better-sqlite3 must pass on sql.js (the Action).
const drivers: [string, () => Promise<Db>][] = [
  ["sql.js", openSqlJs],
  ["better-sqlite3", () => openSqlite({ path: ":memory:" })],
];

describe.each(drivers)("the store on %s", (_name, open) => {
  it("applies every migration once and records the version", async () => {
    const db = await open();
    expect(migrate(db)).toBe(migrations.length);
    expect(db.userVersion()).toBe(migrations.length);
    expect(migrate(db)).toBe(migrations.length);
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all() as {
      name: string;
    }[];
    expect(tables.map((t) => t.name)).toEqual(
      expect.arrayContaining(["tasks", "spend", "runs", "analyses"]),
    );
  });

  it("refuses a database written by a newer bg-agent", async () => {
    const db = await open();
    db.userVersion(migrations.length + 1);
    expect(() => createStore(db)).toThrow(DatabaseTooNewError);
  });

  it("rolls back every pending migration when one fails", async () => {
    const db = await open();
    expect(() =>
      migrate(db, [
        { name: "a", sql: "CREATE TABLE a (x)" },
        { name: "b", sql: "NOT SQL" },
      ]),
    ).toThrow();
    expect(db.userVersion()).toBe(0);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'a'").get()).toBeUndefined();
  });

  it("returns changes and the last rowid, binds ? params, and gives undefined for no row", async () => {
    const db = await open();
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b REAL, c BLOB)");
    const ins = db.prepare("INSERT INTO t (a, b, c) VALUES (?, ?, ?)");
    expect(ins.run("x", 1.5, null)).toEqual({ changes: 1, lastInsertRowid: 1 });
    expect(ins.run("y", 2n, Buffer.from([1, 2]))).toEqual({ changes: 1, lastInsertRowid: 2 });
    expect(db.prepare("UPDATE t SET b = b + 1").run().changes).toBe(2);
    expect(db.prepare("SELECT a, b FROM t WHERE id = ?").get(2)).toEqual({ a: "y", b: 3 });
    expect(db.prepare("SELECT a FROM t WHERE id = ?").get(99)).toBeUndefined();
    expect(db.prepare("SELECT a FROM t ORDER BY id").all()).toEqual([{ a: "x" }, { a: "y" }]);
    expect(() => db.prepare("SELEKT nothing")).toThrow();
  });

  it("commits a transaction, rolls it back on throw, and undoes only a failed nested part", async () => {
    const db = await open();
    db.exec("CREATE TABLE t (v INTEGER)");
    const add = db.prepare("INSERT INTO t (v) VALUES (?)");
    db.transaction(() => add.run(1))();
    expect(() =>
      db.transaction(() => {
        add.run(2);
        throw new Error("boom");
      })(),
    ).toThrow("boom");
    db.transaction(() => {
      add.run(3);
      try {
        db.transaction(() => {
          add.run(4);
          throw new Error("inner");
        })();
      } catch {
        // the caller carries on: only the inner insert is undone
      }
      db.transaction(() => add.run(5))();
    })();
    expect(
      (db.prepare("SELECT v FROM t ORDER BY v").all() as { v: number }[]).map((r) => r.v),
    ).toEqual([1, 3, 5]);
  });

  it("enqueues, claims with a lease, and completes tasks; an expired lease is claimable again", async () => {
    const s = createStore(await open());
    const a = await s.tasks.enqueue(
      { repo: "o/r", type: "automerge", source: "pr:1", contentHash: "x" },
      0,
    );
    expect(
      (
        await s.tasks.enqueue(
          { repo: "o/r", type: "automerge", source: "pr:1", contentHash: "x" },
          0,
        )
      ).outcome,
    ).toBe("unchanged");
    await s.tasks.enqueue(
      { repo: "o/r", type: "tech_debt_analysis", source: "issue:2", payload: { key: "o/r#2" } },
      0,
    );
    const first = await s.tasks.claim({ owner: "w1", leaseMs: 1000, limit: 5, now: 10 });
    expect(first.map((t) => t.source)).toEqual(["pr:1", "issue:2"]);
    expect(first[1]!.payload).toEqual({ key: "o/r#2" });
    expect(await s.tasks.claim({ owner: "w2", leaseMs: 1000, limit: 5, now: 500 })).toHaveLength(0);
    const again = await s.tasks.claim({ owner: "w2", leaseMs: 1000, limit: 1, now: 2000 });
    expect(again.map((t) => [t.id, t.leaseOwner])).toEqual([[a.task.id, "w2"]]);
    expect(await s.tasks.complete(a.task.id, "w1", null)).toBe(false);
    expect(await s.tasks.complete(a.task.id, "w2", { merged: true })).toBe(true);
    expect(await s.tasks.complete(a.task.id, "w2", { merged: true })).toBe(false);
    expect(await s.tasks.get(a.task.id)).toMatchObject({
      status: "done",
      result: '{"merged":true}',
    });
    expect(await s.tasks.counts("o/r")).toEqual([
      { repo: "o/r", type: "automerge", status: "done", count: 1 },
      { repo: "o/r", type: "tech_debt_analysis", status: "running", count: 1 },
    ]);
  });

  it("adds spend per day and sums the month", async () => {
    const s = createStore(await open());
    const now = Date.parse("2026-03-10T12:00:00Z");
    await s.spend.setDay("o/r", "2026-03-01", 0.5);
    await s.spend.add(
      "o/r",
      { promptTokens: 10, cachedTokens: 2, completionTokens: 3, costUsd: 0.25 },
      now,
    );
    await s.spend.add(
      "o/r",
      { promptTokens: 10, cachedTokens: 2, completionTokens: 3, costUsd: 0.25 },
      now,
    );
    expect(await s.spend.today("o/r", now)).toBeCloseTo(0.5);
    expect(await s.spend.month("o/r", now)).toBeCloseTo(1.0);
    expect(await s.spend.daily("2026-03-01", "o/r")).toEqual([
      { day: "2026-03-01", costUsd: 0.5, calls: 0 },
      { day: "2026-03-10", costUsd: 0.5, calls: 2 },
    ]);
  });
});
