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
