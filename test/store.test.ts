import { describe, expect, it } from "vitest";
import { openSqlite } from "../src/store/db.js";
import { createStore } from "../src/store/index.js";
import { DatabaseTooNewError, migrate, migrations } from "../src/store/migrations.js";
import { memoryStore } from "./helpers/store.js";

describe("store", () => {
  it("applies all migrations at open and records the version", async () => {
    const db = await openSqlite({ path: ":memory:" });
    expect(migrate(db)).toBe(migrations.length);
    expect(db.userVersion()).toBe(migrations.length);
    expect(migrate(db)).toBe(migrations.length);
  });

  it("refuses a database written by a newer bg-agent", async () => {
    const db = await openSqlite({ path: ":memory:" });
    db.userVersion(migrations.length + 1);
    expect(() => createStore(db)).toThrow(DatabaseTooNewError);
  });

  it("rolls back every pending migration when one fails", async () => {
    const db = await openSqlite({ path: ":memory:" });
    expect(() =>
      migrate(db, [
        { name: "a", sql: "CREATE TABLE a (x)" },
        { name: "b", sql: "NOT SQL" },
      ]),
    ).toThrow();
    expect(db.userVersion()).toBe(0);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'a'").get()).toBeUndefined();
  });

  it("keeps one open task per (repo, type, source) and refreshes it", async () => {
    const s = await memoryStore();
    const a = await s.tasks.enqueue({
      repo: "o/r",
      type: "automerge",
      source: "pr:1",
      contentHash: "x",
    });
    const b = await s.tasks.enqueue({
      repo: "o/r",
      type: "automerge",
      source: "pr:1",
      contentHash: "x",
    });
    const c = await s.tasks.enqueue({
      repo: "o/r",
      type: "automerge",
      source: "pr:1",
      contentHash: "y",
    });
    expect(a.outcome).toBe("created");
    expect(b.outcome).toBe("unchanged");
    expect(c).toMatchObject({ outcome: "merged", task: { id: a.task.id, contentHash: "y" } });
    expect(await s.tasks.list({ repo: "o/r" })).toHaveLength(1);
  });

  it("queues a follow-up when content changes while a task runs", async () => {
    const s = await memoryStore();
    await s.tasks.enqueue({
      repo: "o/r",
      type: "tech_debt_analysis",
      source: "issue:1",
      contentHash: "a",
    });
    const [claimed] = await s.tasks.claim({ owner: "w1", leaseMs: 1000, limit: 5 });
    const follow = await s.tasks.enqueue({
      repo: "o/r",
      type: "tech_debt_analysis",
      source: "issue:1",
      contentHash: "b",
    });
    expect(follow.outcome).toBe("created");
    expect(await s.tasks.complete(claimed!.id, "w1", { ok: true })).toBe(true);
    expect((await s.tasks.get(follow.task.id))?.status).toBe("pending");
  });

  it("makes a task claimable again when its lease expires, and never hands it to two workers", async () => {
    const s = await memoryStore();
    await s.tasks.enqueue({ repo: "o/r", type: "automerge", source: "pr:1" }, 0);
    const first = await s.tasks.claim({ owner: "w1", leaseMs: 1000, limit: 5, now: 10 });
    expect(first).toHaveLength(1);
    expect(await s.tasks.claim({ owner: "w2", leaseMs: 1000, limit: 5, now: 500 })).toHaveLength(0);
    const again = await s.tasks.claim({ owner: "w2", leaseMs: 1000, limit: 5, now: 2000 });
    expect(again.map((t) => t.leaseOwner)).toEqual(["w2"]);
    expect(await s.tasks.complete(first[0]!.id, "w1", null)).toBe(false);
    expect(await s.tasks.complete(again[0]!.id, "w2", null)).toBe(true);
    expect(await s.tasks.complete(again[0]!.id, "w2", null)).toBe(false);
  });
});
