import { afterEach, describe, expect, it } from "vitest";
import { GroupCommit } from "../../src/store/group-commit.js";
import { createAsyncStore, openAsyncStore } from "../../src/store/sqlite-store.js";
import type { SqliteStore } from "../../src/store/sqlite-store.js";
import { openSqlJs } from "../../src/store/sqljs.js";

const tick = () => new Promise((r) => setImmediate(r));

describe("the SQLite store behind the async contract", () => {
  const open: SqliteStore[] = [];
  const fresh = async () => {
    const s = await openAsyncStore({ path: ":memory:" });
    open.push(s);
    return s;
  };
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });

  it("answers every part method with a promise of the synchronous result", async () => {
    const store = await fresh();
    expect(store.dialect).toBe("sqlite");
    const p = store.deliveries.record({ id: "d1", event: "push" });
    expect(p).toBeInstanceOf(Promise);
    expect(await p).toBe(true);
    expect(await store.deliveries.record({ id: "d1", event: "push" })).toBe(false);
    expect(await store.deliveries.has("d1")).toBe(true);
    expect(await store.schemaVersion()).toBeGreaterThan(0);
  });

  it("turns a thrown error into a rejection, not a synchronous throw", async () => {
    const store = await fresh();
    // SQLite cannot bind an object: the synchronous part throws, the async one rejects.
    const bad = () => store.deliveries.has({} as unknown as string);
    let p: Promise<boolean> | undefined;
    expect(() => (p = bad())).not.toThrow();
    await expect(p).rejects.toThrow();
  });

  it("commits a tx when its callback resolves and rolls all of it back when it rejects", async () => {
    const store = await fresh();
    await store.tx(async (t) => {
      await t.deliveries.record({ id: "kept", event: "push" });
    });
    await expect(
      store.tx(async (t) => {
        await t.deliveries.record({ id: "lost", event: "push" });
        await tick();
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(await store.deliveries.has("kept")).toBe(true);
    expect(await store.deliveries.has("lost")).toBe(false);
  });

  it("keeps other callers out of an open tx: their statements run after it ends, never inside it", async () => {
    const store = await fresh();
    const order: string[] = [];
    const inTx = store.tx(async (t) => {
      await t.deliveries.record({ id: "a", event: "push" });
      await tick(); // an await on I/O: other callers run meanwhile
      order.push("tx end");
      throw new Error("rolled back");
    });
    // Started while the tx is open: must not be rolled back with it.
    const outside = store.deliveries.record({ id: "b", event: "push" }).then((r) => {
      order.push("outside");
      return r;
    });
    const other = store.tx(async (t) => {
      order.push("second tx");
      return await t.deliveries.has("a");
    });
    await expect(inTx).rejects.toThrow("rolled back");
    expect(await outside).toBe(true);
    expect(await other).toBe(false);
    expect(order).toEqual(["tx end", "outside", "second tx"]);
    expect(await store.deliveries.has("b")).toBe(true);
  });

  it("makes a nested tx a savepoint: its failure undoes only its own writes", async () => {
    const store = await fresh();
    await store.tx(async (t) => {
      await t.deliveries.record({ id: "outer", event: "push" });
      await t
        .tx(async (n) => {
          await n.deliveries.record({ id: "inner", event: "push" });
          throw new Error("inner fails");
        })
        .catch(() => undefined);
    });
    expect(await store.deliveries.has("outer")).toBe(true);
    expect(await store.deliveries.has("inner")).toBe(false);
  });

  it("refuses a call through a tx handle after the tx ended", async () => {
    const store = await fresh();
    let leaked: Parameters<Parameters<SqliteStore["tx"]>[0]>[0] | undefined;
    await store.tx(async (t) => {
      leaked = t;
    });
    await expect(leaked!.deliveries.has("x")).rejects.toThrow(/transaction that has ended/);
  });

  it("never lets the group commit COMMIT while a tx is open: half a tx is never durable", async () => {
    const store = await fresh();
    const group = new GroupCommit(store);
    group.join();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const tx = store.tx(async (t) => {
      await t.deliveries.record({ id: "half", event: "push" });
      await gate;
      await t.deliveries.record({ id: "other half", event: "push" });
    });
    const committed = group.commit();
    await tick();
    await tick();
    expect(group.commits).toBe(0); // deferred: the tx is open
    release();
    await tx;
    await committed;
    expect(group.commits).toBe(1);
    expect(await store.deliveries.has("other half")).toBe(true);
  });

  it("runs the same on sql.js (the Action)", async () => {
    const store = createAsyncStore(await openSqlJs());
    open.push(store);
    await store.tx(async (t) => {
      await t.deliveries.record({ id: "a", event: "push" });
      await t.tx(async (n) => n.deliveries.record({ id: "b", event: "push" })).catch(() => {});
    });
    await expect(
      store.tx(async (t) => {
        await t.deliveries.record({ id: "c", event: "push" });
        throw new Error("no");
      }),
    ).rejects.toThrow("no");
    expect(await store.deliveries.has("b")).toBe(true);
    expect(await store.deliveries.has("c")).toBe(false);
  });
});
