import { describe, expect, it } from "vitest";
import type { StoreParts } from "../../src/store/contract.js";
import { createScopedStore } from "../../src/store/scoped-store.js";
import { memoryStore } from "../helpers/store.js";

const enqueue = (s: Pick<StoreParts, "tasks">, source: string) =>
  s.tasks.enqueue({ repo: "o/r", type: "fix", source });

describe("the delivery-scoped store", () => {
  it("inside a delivery's transaction the handlers' calls join it: committed together, rolled back together", async () => {
    const root = await memoryStore();
    const scoped = createScopedStore(root);
    await scoped.tx(async () => {
      await enqueue(scoped.store, "kept");
      await scoped.store.tx(async (t) => enqueue(t, "kept-nested"));
    });
    await expect(
      scoped.tx(async () => {
        await enqueue(scoped.store, "undone");
        throw new Error("handler failed");
      }),
    ).rejects.toThrow("handler failed");
    expect((await root.tasks.list()).map((t) => t.source).sort()).toEqual(["kept", "kept-nested"]);
    await root.close();
  });

  it("a handler's tx that throws fails the whole delivery, even when the handler catches the error", async () => {
    const root = await memoryStore();
    const scoped = createScopedStore(root);
    await expect(
      scoped.tx(async () => {
        await enqueue(scoped.store, "before");
        await scoped.store
          .tx(async (t) => {
            await enqueue(t, "inside");
            throw new Error("tx failed");
          })
          .catch(() => undefined); // the handler carries on
        await enqueue(scoped.store, "after");
      }),
    ).rejects.toThrow("tx failed");
    expect(await root.tasks.list()).toEqual([]);
    await root.close();
  });

  it("concurrent handlers' tx calls take turns; one nested in another runs at once", async () => {
    const root = await memoryStore();
    const scoped = createScopedStore(root);
    const order: string[] = [];
    const slow = (name: string, ms: number) =>
      scoped.store.tx(async (t) => {
        order.push(`${name} start`);
        await new Promise((r) => setTimeout(r, ms));
        await scoped.store.tx(async (inner) => enqueue(inner, `${name}-nested`));
        await enqueue(t, name);
        order.push(`${name} end`);
      });
    await scoped.tx(async () => {
      await Promise.all([slow("a", 20), slow("b", 1)]);
    });
    expect(order).toEqual(["a start", "a end", "b start", "b end"]);
    expect((await root.tasks.list()).map((t) => t.source).sort()).toEqual([
      "a",
      "a-nested",
      "b",
      "b-nested",
    ]);
    await root.close();
  });

  it("outside a delivery, and after it ended, calls go to the root store; afterCommit runs once committed, never on rollback", async () => {
    const root = await memoryStore();
    const scoped = createScopedStore(root);
    await enqueue(scoped.store, "outside");
    const ran: string[] = [];
    let late: Promise<unknown> | undefined;
    await scoped.tx(async () => {
      scoped.afterCommit(() => ran.push("committed"));
      // Something the delivery started but did not await: it runs after the transaction ended.
      late = new Promise((r) => setTimeout(r, 10)).then(() => enqueue(scoped.store, "late"));
      expect(ran).toEqual([]);
    });
    expect(ran).toEqual(["committed"]);
    await late;
    await scoped
      .tx(async () => {
        scoped.afterCommit(() => ran.push("rolled back"));
        throw new Error("no");
      })
      .catch(() => undefined);
    scoped.afterCommit(() => ran.push("now"));
    expect(ran).toEqual(["committed", "now"]);
    expect((await root.tasks.list()).map((t) => t.source).sort()).toEqual(["late", "outside"]);
    await root.close();
  });
});
