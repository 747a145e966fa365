import type { GitHubClient, RepoRef } from "../integrations/github.js";
import type { Logger } from "../log.js";
import { upsertComment } from "./comments.js";
import { findDashboardIssue } from "./dashboard-issue.js";

/** A budget level a period's spend reached for the first time (decided by src/llm/budget.ts). */
export interface BudgetAlert {
  repo: string;
  /** `day:<YYYY-MM-DD>` or `month:<YYYY-MM>`: the alert's marker key. */
  period: string;
  name: "daily" | "monthly";
  /** The highest level reached, in percent (100: spent). */
  level: number;
  spent: number;
  limit: number;
}

export interface AlertTarget {
  octokit: GitHubClient;
  ref: RepoRef;
  log: Logger;
  /** The dashboard issue's title (`dashboard.issue_title`). */
  issueTitle: string;
}

/** What the dashboard comment of an alert says. */
export function budgetAlertBody(a: BudgetAlert): string {
  const money = `($${a.spent.toFixed(4)} of $${a.limit.toFixed(2)})`;
  return a.level >= 100
    ? `**bg-agent: the ${a.name} LLM budget of ${a.repo} is spent** ${money}.\n\n` +
        `LLM work stops until the period rolls over (midnight UTC${a.name === "monthly" ? " on the 1st" : ""}); queued analyses wait and are not lost. ` +
        `Raise \`budget.${a.name === "daily" ? "daily_usd" : "monthly_usd"}\` in .github/bg-agent.yml to continue sooner.`
    : `**bg-agent: ${a.level}% of the ${a.name} LLM budget of ${a.repo} is spent** ${money}.\n\n` +
        `At 100% LLM work stops until the period rolls over.`;
}

/**
 * Posts the alerts the budget decided on: a comment (marker `budget-alert:<period>`, updated in
 * place) on the dashboard issue. Never throws: an alert that cannot be posted is logged.
 */
export async function postBudgetAlerts(alerts: BudgetAlert[], target: AlertTarget): Promise<void> {
  for (const a of alerts) {
    try {
      const dash = await findDashboardIssue(target.octokit, target.ref, {
        title: target.issueTitle,
        create: true,
      });
      if (dash)
        await upsertComment(
          target.octokit,
          target.ref,
          dash.number,
          "budget-alert",
          a.period,
          budgetAlertBody(a),
        );
      target.log.warn(
        { period: a.period, level: a.level, spent: a.spent, limit: a.limit },
        "budget alert raised",
      );
    } catch (e) {
      target.log.error({ err: e, period: a.period }, "could not post the budget alert");
    }
  }
}
