import type { Logger } from "../log.js";
import { postBudgetAlerts } from "../report/budget-alert.js";
import type { ProcessorContext } from "../core/worker-contract.js";
import { repoBudget } from "./budget.js";

/**
 * A repository's budget where its LLM clients meet it: `guard` asks the budget about a call's
 * (or a submission's) estimate before anything is sent and, on a stop, has the report layer
 * post the alerts it raised, then throws the BudgetExceededError; `alert` posts the alerts the
 * spend recorded since has reached. The budget decides (src/llm/budget.ts), the report layer
 * posts (src/report/budget-alert.ts).
 */
export function budgetGate(
  ctx: ProcessorContext,
  log: Logger,
): { guard(estimateUsd: number, what: string): Promise<void>; alert(): Promise<void> } {
  const budget = repoBudget(ctx, log);
  const target = {
    octokit: ctx.octokit,
    ref: ctx.repo,
    log,
    issueTitle: ctx.config.dashboard.issue_title,
  };
  return {
    async guard(estimateUsd, what) {
      const no = await budget.check(estimateUsd, what);
      if (!no) return;
      await postBudgetAlerts(no.alerts, target);
      throw no.stop;
    },
    alert: async () => postBudgetAlerts(await budget.alerts(), target),
  };
}
