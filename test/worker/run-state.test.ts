import nock from "nock";
import { describe, expect, it } from "vitest";
import { addRunSpend, checkBudget, runSpent } from "../../src/llm/budget.js";
import { BudgetExceededError } from "../../src/llm/types.js";
import { createRunState, runSlot } from "../../src/core/run-state.js";
import { testEnv } from "../helpers/context.js";
import { memoryStore } from "../helpers/store.js";

describe("RunState: what a run knows lives on env.run", () => {
  it("each run's cap counts only its own spend: a second run in the same process starts at $0", async () => {
    const store = await memoryStore();
    const first = testEnv(store, { runCapUsd: 1 });
    const second = testEnv(store, { runCapUsd: 1 });
    addRunSpend(first, 0.9);
    const b = { store, repo: "octo/demo", estimateUsd: 0.2 };
    const config = await first.config("octo/demo", await first.github("octo/demo"));
    if (!config.ok) throw new Error("test config invalid");
    await expect(checkBudget({ ...b, config: config.config, env: first })).rejects.toThrow(
      BudgetExceededError,
    );
    await expect(
      checkBudget({ ...b, config: config.config, env: second }),
    ).resolves.toBeUndefined();
    expect([runSpent(first), runSpent(second)]).toEqual([0.9, 0]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a module's slot is created once per run and never shared between runs", () => {
    let created = 0;
    const slot = runSlot("test", () => ({ n: ++created }));
    const a = createRunState();
    const b = createRunState();
    expect(a.memo(slot)).toBe(a.memo(slot));
    expect(b.memo(slot)).not.toBe(a.memo(slot));
    expect(created).toBe(2);
  });
});
