import { z } from "zod";
import type { Task } from "../../core/domain.js";
import { PausedError } from "../../core/paused.js";
import type { Processor, ProcessorContext, TaskOutcome } from "../../core/worker-contract.js";
import { llmFor } from "../../llm/for-context.js";
import { BudgetExceededError, LlmUnavailableError } from "../../llm/types.js";
import { upsertComment } from "../../report/comments.js";
import { findDashboardIssue } from "../../report/dashboard-issue.js";
import { linkPolicyFor } from "../../report/link-policy.js";
import { DISCOVERY_SOURCE, discoveryDecision, discoveryTiming } from "../../schedule/discovery.js";
import type { DiscoveryDecision } from "../../schedule/discovery.js";
import { proposeTask } from "../../schedule/proposals.js";
import type { Store } from "../../store/index.js";
import { errText } from "../../util/errors.js";
import { emptyUsage } from "../prompt-task/run.js";
import { askForProposals, systemPrompt, userPrompt } from "./answer.js";
import { formatDiscoveryReport, runSummary } from "./report.js";
import type { Dropped } from "./vet.js";
import { vetProposals } from "./vet.js";
import { readSnapshot } from "./snapshot.js";

export const payloadSchema = z.object({}).loose();

/** Run statuses that count as a discovery run for `every` (a budget wait or a preemption does not). */
const COUNTED = new Set(["changed", "unchanged", "failed"]);

/** When the last discovery run of a repository started (null: never). */
export async function lastDiscoveryAt(store: Store, repo: string): Promise<number | null> {
  const runs = await store.runs.list({ repo, kind: "discovery", limit: 20 });
  return runs.find((r) => COUNTED.has(r.status))?.startedAt ?? null;
}

async function decide(ctx: ProcessorContext, now: number): Promise<DiscoveryDecision> {
  return discoveryDecision(
    discoveryTiming(ctx.config.discovery),
    {
      lastHumanAt: (await ctx.store.activity.get(ctx.repoName)).lastHumanAt,
      lastRunAt: await lastDiscoveryAt(ctx.store, ctx.repoName),
    },
    now,
  );
}

const where = (ctx: ProcessorContext) => ({
  repo: ctx.repoName,
  type: "discovery" as const,
  source: DISCOVERY_SOURCE,
});

/**
 * Discovery (`discovery:` in the config): when the repository has gone quiet with someone still
 * around (src/schedule/discovery.ts), the model is shown the open issues and PRs, the default
 * branch's failing checks and recent commits, and bg-agent's tasks, and asked whether any
 * background task is worth proposing. What passes bg-agent's checks (./vet.ts) becomes a task
 * proposal on the dashboard issue (`proposeTask`), decided with `/bg approve` / `/bg reject`.
 *
 * Scheduling reuses the task queue: `prepare` keeps one `discovery` task queued for when it could
 * next be due (so the pass visits the repository then), and `process` checks the rule again.
 */
export function createDiscoveryProcessor(): Processor {
  return {
    type: "discovery",
    usesLlm: true,
    batchSize: () => 1,

    async prepare(ctx) {
      if (!ctx.configResult.ok) return;
      const now = Date.now();
      if (!ctx.config.discovery.enabled) {
        await ctx.store.tasks.cancelPending(
          where(ctx),
          "discovery is off in .github/bg-agent.yml",
          now,
        );
        return;
      }
      const d = await decide(ctx, now);
      const runAt = d.due ? now : d.recheckAt;
      if (runAt === null) return;
      await ctx.store.tasks.enqueue({ ...where(ctx), payload: {}, runAt }, now);
    },

    async process(ctx, tasks) {
      const out = new Map<number, TaskOutcome>();
      for (const t of tasks) out.set(t.id, await runDiscovery(ctx, t));
      return out;
    },
  };
}

async function runDiscovery(ctx: ProcessorContext, task: Task): Promise<TaskOutcome> {
  const now = Date.now();
  const d = ctx.config.discovery;
  if (!ctx.config.discovery.enabled) return { status: "skipped", reason: "discovery is off" };
  const decision = await decide(ctx, now);
  if (!decision.due) {
    return decision.recheckAt === null
      ? { status: "skipped", reason: decision.why }
      : { status: "retry", at: decision.recheckAt, reason: decision.why };
  }
  const log = ctx.log.child({ discovery: task.id });
  const dry = ctx.env.dryRun;
  const usage = emptyUsage();
  const runId = dry
    ? null
    : await ctx.store.runs.record({
        repo: ctx.repoName,
        kind: "discovery",
        ref: DISCOVERY_SOURCE,
        taskId: task.id,
        status: "running",
        startedAt: now,
        finishedAt: null,
      });
  try {
    const snapshot = await readSnapshot(ctx, now);
    const main = llmFor(ctx);
    const background = ctx.config.llm.background_model;
    const first =
      background && background !== main.model ? llmFor(ctx, { model: background }) : main;
    const asked = await askForProposals(
      first,
      first === main ? null : main,
      {
        system: systemPrompt({
          repoName: ctx.repoName,
          maxProposals: d.max_proposals,
          minInterval: ctx.config.schedule.min_interval,
        }),
        user: userPrompt(snapshot),
      },
      usage,
      ctx.signal,
    );
    if (asked.escalated)
      log.info({ why: asked.escalated }, "background model's answer invalid; main model asked");
    const timing = discoveryTiming(d);
    const vetted = await vetProposals(asked.answer.proposals, {
      store: ctx.store,
      repo: ctx.repoName,
      config: ctx.config,
      maxProposals: d.max_proposals,
      rejectCooldownMs: timing.rejectCooldownMs,
      now,
    });
    const dropped: Dropped[] = [...vetted.dropped];
    for (const x of dropped) log.info({ proposal: x.name, why: x.why }, "proposal dropped");
    if (dry) {
      log.info(
        { offered: vetted.offered.map((v) => v.task.name), dropped },
        "dry-run: discovery ran, nothing proposed",
      );
      return {
        status: "done",
        result: { offered: vetted.offered.length, dropped: dropped.length },
      };
    }
    const offered: { vetted: (typeof vetted.offered)[number]; proposalId: number }[] = [];
    let url: string | null = null;
    if (vetted.offered.length || dropped.length) {
      const dash = await findDashboardIssue(ctx.octokit, ctx.repo, {
        title: ctx.config.dashboard.issue_title,
        create: true,
      });
      if (!dash) throw new Error("the dashboard issue could not be found or created");
      for (const v of vetted.offered) {
        const r = await proposeTask(ctx.store, ctx.repoName, ctx.config, v.raw, Date.now(), {
          issue: dash.number,
        });
        if (r.ok) offered.push({ vetted: v, proposalId: r.proposal.id });
        else dropped.push({ name: v.task.name, why: r.why });
      }
      const body = formatDiscoveryReport({
        offered,
        dropped,
        model: asked.model,
        escalated: asked.escalated,
        usage,
        links: linkPolicyFor(ctx),
      });
      const posted = await upsertComment(
        ctx.octokit,
        ctx.repo,
        dash.number,
        "discovery",
        runId ?? now,
        body,
      );
      url = posted.url;
    }
    const names = offered.map((o) => o.vetted.task.name);
    await ctx.store.runs.finish(
      runId!,
      names.length ? "changed" : "unchanged",
      { summary: runSummary(names, dropped), usage, url },
      Date.now(),
    );
    log.info({ proposed: names, dropped: dropped.length, model: asked.model }, "discovery ran");
    return {
      status: "done",
      result: { runId, proposed: names, dropped, model: asked.model },
    };
  } catch (e) {
    const at = Date.now();
    if (e instanceof PausedError) {
      if (runId !== null)
        await ctx.store.runs.finish(runId, "preempted", { error: e.state.reason, usage }, at);
      return { status: "retry", at: e.retryAt, reason: `preempted: ${e.state.reason}` };
    }
    if (e instanceof BudgetExceededError || e instanceof LlmUnavailableError) {
      const retryAt =
        e instanceof BudgetExceededError && e.retryAt !== null ? e.retryAt : at + 60 * 60_000;
      if (runId !== null)
        await ctx.store.runs.finish(runId, "skipped", { error: e.message, usage }, at);
      log.warn({ why: e.message }, "discovery waits");
      return { status: "retry", at: retryAt, reason: e.message };
    }
    const error = errText(e) || String(e);
    if (runId !== null) await ctx.store.runs.finish(runId, "failed", { error, usage }, at);
    log.warn({ error }, "discovery failed");
    // Not retried: the next quiet spell runs it again (a failed run counts for `every`).
    return { status: "failed", error, permanent: true };
  }
}
