import nock from "nock";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { budgetAlerts } from "../../src/llm/budget.js";
import { BudgetExceededError } from "../../src/llm/types.js";
import { budgetAlertBody } from "../../src/report/budget-alert.js";
import { dayKey, monthKey } from "../../src/store/spend.js";
import { memoryStore } from "../helpers/store.js";

const REPO = "octo/demo";
const result = parseConfig({ budget: { daily_usd: 1, monthly_usd: 100 } });
if (!result.ok) throw new Error("test config invalid");
const config = result.config;

describe("the budget decides, the report layer posts", () => {
  it("crossing 80% is decided once per period without a GitHub request; the report layer renders it", async () => {
    const store = await memoryStore();
    const now = Date.now();
    await store.spend.setDay(REPO, dayKey(now), 0.85);
    const b = { store, repo: REPO, config, dryRun: false, now };
    const first = await budgetAlerts(b);
    expect(first).toEqual([
      { repo: REPO, period: `day:${dayKey(now)}`, name: "daily", level: 80, spent: 0.85, limit: 1 },
    ]);
    // Decided (and recorded) once: asked again the same day, nothing is due.
    expect(await budgetAlerts(b)).toEqual([]);
    expect(budgetAlertBody(first[0]!)).toContain(
      "80% of the daily LLM budget of octo/demo is spent** ($0.8500 of $1.00)",
    );
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a refused call raises the 100% level of its period even below the limit; a dry run decides none", async () => {
    const store = await memoryStore();
    const now = Date.now();
    const stop = new BudgetExceededError("month", 0.5, 100, null);
    expect(await budgetAlerts({ store, repo: REPO, config, dryRun: true, now }, stop)).toEqual([]);
    const [a, ...rest] = await budgetAlerts(
      { store, repo: REPO, config, dryRun: false, now },
      stop,
    );
    expect(rest).toEqual([]);
    expect(a).toMatchObject({ period: `month:${monthKey(now)}`, name: "monthly", level: 100 });
    expect(budgetAlertBody(a!)).toContain("Raise `budget.monthly_usd`");
  });
});
