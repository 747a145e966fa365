import { z } from "zod";
import type { GitHubClient } from "../../src/integrations/github.js";
import { llmFor } from "../../src/llm/for-context.js";
import type { Processor, TaskOutcome } from "../../src/core/worker-contract.js";

/**
 * Stand-ins for the real processors (built on other branches), with the same shape: an analysis
 * processor that sweeps labelled issues and makes one LLM call per batch, and an automerge one
 * that merges PRs labelled `ready` (a `merged` run each), so the runner around them can be tested.
 */
export function fakeProcessors(): Processor[] {
  const analysis: Processor = {
    type: "tech_debt_analysis",
    usesLlm: true,
    batchSize: (c) => c.tech_debt.batch_size,
    async sweep(ctx) {
      const issues = await (ctx.octokit as GitHubClient).paginate(
        ctx.octokit.rest.issues.listForRepo,
        {
          ...ctx.repo,
          labels: ctx.config.tech_debt.github.labels.join(","),
          state: "open",
          per_page: 100,
        },
      );
      for (const i of issues) {
        await ctx.store.tasks.enqueue({
          repo: ctx.repoName,
          type: "tech_debt_analysis",
          source: `issue:${i.number}`,
          payload: {
            key: `${ctx.repoName}#${i.number}`,
            number: i.number,
            title: i.title,
            body: i.body ?? "",
          },
        });
      }
    },
    async process(ctx, tasks) {
      const res = await llmFor(ctx).chat({
        messages: [{ role: "user", content: `analyse ${tasks.length}` }],
        purpose: "analysis",
      });
      await ctx.store.spend.add(ctx.repoName, res.usage);
      const parsed = z.object({ ok: z.boolean() }).parse(JSON.parse(res.message.content ?? "{}"));
      return new Map<number, TaskOutcome>(
        tasks.map((t) => [
          t.id,
          parsed.ok
            ? { status: "done", result: { analysed: true } }
            : { status: "failed", error: "not ok" },
        ]),
      );
    },
  };
  const automerge: Processor = {
    type: "automerge",
    usesLlm: false,
    batchSize: () => 5,
    async sweep(ctx) {
      const { data } = await ctx.octokit.rest.pulls.list({
        ...ctx.repo,
        state: "open",
        per_page: 100,
      });
      for (const pr of data) {
        await ctx.store.tasks.enqueue({
          repo: ctx.repoName,
          type: "automerge",
          source: `pr:${pr.number}`,
          payload: { pr: pr.number },
        });
      }
    },
    async process(ctx, tasks) {
      const out = new Map<number, TaskOutcome>();
      for (const t of tasks) {
        const pr = Number(t.payload.pr);
        const { data } = await ctx.octokit.rest.pulls.get({ ...ctx.repo, pull_number: pr });
        if (!data.labels.some((l) => l.name === "ready")) {
          out.set(t.id, { status: "skipped", reason: "not labelled ready" });
          continue;
        }
        if (!ctx.env.dryRun) {
          await ctx.octokit.rest.pulls.merge({ ...ctx.repo, pull_number: pr, sha: data.head.sha });
          await ctx.store.runs.record({
            repo: ctx.repoName,
            kind: "automerge",
            ref: `pr:${pr}`,
            status: "merged",
            taskId: t.id,
          });
        }
        out.set(t.id, { status: "done", result: { merged: !ctx.env.dryRun } });
      }
      return out;
    },
  };
  return [automerge, analysis];
}
