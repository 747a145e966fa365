import { infoCommand } from "../command.js";

const usd = (n: number): string => `$${n.toFixed(n < 1 ? 4 : 2)}`;
const pct = (spent: number, limit: number): string =>
  limit > 0 ? `${Math.round((spent / limit) * 100)}%` : "—";

/** `/bg budget`: LLM spend today and this month against the configured limits. */
export const budget = infoCommand({
  name: "budget",
  summary: "LLM spend today and this month against the configured limits.",
  async handle(call) {
    const { store, repoName, config, env } = call.ctx;
    const today = await store.spend.today(repoName, call.now);
    const month = await store.spend.month(repoName, call.now);
    const b = config.budget;
    const lines = [
      "| Period | Spent | Limit | Used |",
      "|---|---:|---:|---:|",
      `| Today (UTC) | ${usd(today)} | ${usd(b.daily_usd)} | ${pct(today, b.daily_usd)} |`,
      `| This month | ${usd(month)} | ${usd(b.monthly_usd)} | ${pct(month, b.monthly_usd)} |`,
    ];
    const stopped = today >= b.daily_usd || month >= b.monthly_usd;
    lines.push(
      "",
      stopped
        ? "🛑 A budget is spent: LLM work waits until it rolls over (midnight UTC for the day, the 1st for the month). Merges and commands go on."
        : `LLM work stops before any call that would pass a limit; an alert is posted at ${Math.round(b.alert_at * 100)}%.`,
    );
    if (env.runCapUsd !== undefined)
      lines.push(`Each run is also capped at ${usd(env.runCapUsd)}.`);
    if (!call.ctx.configResult.ok)
      lines.push(
        "",
        "⚠️ The config file is invalid: these are the default limits (see the `bg-agent/config` check run).",
      );
    return { text: lines.join("\n") };
  },
});
