import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSqlite } from "../../src/store/db.js";
import type { Db } from "../../src/store/db.js";
import { GroupCommit } from "../../src/store/group-commit.js";
import { openStore } from "../../src/store/index.js";
import type { SqliteStore as Store } from "../../src/store/index.js";

describe("GroupCommit", () => {
  let dir: string;
  let store: Store;
  let other: Db;
  const visible = () =>
    (other.prepare("SELECT COUNT(*) AS n FROM deliveries").get() as { n: number }).n;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "bg-group-"));
    store = await openStore({ path: join(dir, "s.db") });
    other = await openSqlite({ path: join(dir, "s.db") });
  });
  afterEach(async () => {
    other.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("commits concurrent deliveries together, and only then resolves them", async () => {
    const g = new GroupCommit(store);
    g.join();
    g.join();
    await store.deliveries.record({ id: "a", event: "e" });
    await store.deliveries.record({ id: "b", event: "e" });
    expect(visible()).toBe(0);
    const done = Promise.all([g.commit(), g.commit()]);
    expect(visible()).toBe(0);
    await done;
    expect(visible()).toBe(2);
    expect(g.commits).toBe(1);
  });

  it("a handler's transaction inside the group rolls back alone", async () => {
    const g = new GroupCommit(store);
    g.join();
    g.join();
    await store.tx(async (t) => await t.deliveries.record({ id: "kept", event: "e" }));
    await expect(
      store.tx(async (t) => {
        await t.deliveries.record({ id: "lost", event: "e" });
        throw new Error("handler failed");
      }),
    ).rejects.toThrow("handler failed");
    g.leave();
    await g.commit();
    expect(other.prepare("SELECT id FROM deliveries").all()).toEqual([{ id: "kept" }]);
  });

  it("acknowledges only after the sync hook made the commit durable, and not at all if it fails", async () => {
    let release!: () => void;
    const synced = new Promise<void>((r) => (release = r));
    const g = new GroupCommit(store, { sync: () => synced });
    g.join();
    await store.deliveries.record({ id: "a", event: "e" });
    let acked = false;
    const p = g.commit().then(() => (acked = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(visible()).toBe(1); // committed...
    expect(acked).toBe(false); // ...but not yet durable: not acknowledged
    release();
    await p;
    expect(acked).toBe(true);

    const failing = new GroupCommit(store, { sync: () => Promise.reject(new Error("EIO")) });
    failing.join();
    await store.deliveries.record({ id: "b", event: "e" });
    await expect(failing.commit()).rejects.toThrow("EIO");
  });

  it("while one group is being synced, finished deliveries wait in the next group, committed after it", async () => {
    const releases: (() => void)[] = [];
    const g = new GroupCommit(store, {
      sync: () => new Promise<void>((r) => releases.push(r)),
    });
    g.join();
    await store.deliveries.record({ id: "a", event: "e" });
    const first = g.commit();
    await new Promise((r) => setTimeout(r, 10));
    expect([visible(), g.commits, releases.length]).toEqual([1, 1, 1]); // committed, fsync running
    g.join();
    await store.deliveries.record({ id: "b", event: "e" });
    g.join();
    await store.deliveries.record({ id: "c", event: "e" });
    const next = Promise.all([g.commit(), g.commit()]);
    await new Promise((r) => setTimeout(r, 10));
    expect([visible(), g.commits]).toEqual([1, 1]); // b and c wait for the running fsync
    releases[0]!();
    await first;
    await new Promise((r) => setTimeout(r, 10));
    expect([visible(), g.commits, releases.length]).toEqual([3, 2, 2]); // one commit for both
    releases[1]!();
    await next;
  });

  it("the real WAL sync resolves on a file database", async () => {
    expect(store.db.syncWal).toBeTypeOf("function");
    await store.deliveries.record({ id: "a", event: "e" });
    await expect(store.db.syncWal!()).resolves.toBeUndefined();
  });
});
