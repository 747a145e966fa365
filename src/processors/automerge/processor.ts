import { z } from "zod";
import { rateLimitedUntil } from "../../integrations/github.js";
import { publishCheckRun } from "../../report/check-runs.js";
import type { CheckConclusion } from "../../report/check-runs.js";
import { upsertComment } from "../../report/comments.js";
import type { AutomergeState } from "../../store/automerge-state.js";
import type { RunStatus } from "../../store/runs.js";
import type { Task } from "../../store/tasks.js";
import { formatDuration } from "../../util/duration.js";
import type { Processor, ProcessorContext, TaskOutcome } from "../../core/worker-contract.js";
import { evaluatePull } from "./evaluate.js";
import type { MergeResult } from "./merge.js";
import { UPDATED_RECHECK_MS, mergeIfStillReady, updateBranch } from "./merge.js";
import {
  CHECK_NAME,
  checkRunSummary,
  conditionLine,
  mergedComment,
  updateLinear,
} from "./report.js";
import type { Evaluation } from "./types.js";
import { CONDITION_LABELS } from "./types.js";

/** After bg-agent merges into a base branch, other PRs for that base wait this long (one merge per base per pass). */
export const SETTLE_MS = 2 * 60_000;

export interface AutomergeProcessorOptions {
  settleMs?: number;
  now?: () => number;
}

export const prPayload = z.object({
  pr: z.number().int().positive(),
  headSha: z.string().optional(),
});
export const shaPayload = z.object({ headSha: z.string().regex(/^[0-9a-f]{7,64}$/i) });
const associatedSchema = z.array(
  z.object({
    number: z.number().int(),
    state: z.string(),
    head: z.object({ sha: z.string() }),
    base: z.object({ repo: z.object({ full_name: z.string() }) }),
  }),
);

/** What one PR's evaluation led to. */
interface PrResult {
  pr: number;
  state: AutomergeState["state"] | "not_candidate" | "missing";
  detail: string;
  /** Look again at this time (checks running, head moved, one merge per base). */
  retryAt?: number;
}

/** What to report for a PR: check run headline, conclusion, the "Next" line, store state. */
interface Report {
  state: AutomergeState["state"];
  headline: string;
  next: string;
  conclusion: CheckConclusion;
  run: RunStatus;
  retryAt?: number;
}

/** `300000` -> `5 minutes`. */
export function minutes(ms: number): string {
  const m = Math.max(1, Math.round(ms / 60_000));
  if (m < 120) return `${m} minute${m === 1 ? "" : "s"}`;
  return formatDuration(ms);
}

/**
 * The `automerge` processor: evaluates PRs from GitHub state alone and merges the ones that are
 * provably ready (see docs/automerge.md). No LLM is involved.
 */
export function createAutomergeProcessor(opts: AutomergeProcessorOptions = {}): Processor {
  const settleMs = opts.settleMs ?? SETTLE_MS;
  const now = opts.now ?? Date.now;
  /** `repo|base` -> when bg-agent last merged into it. */
  const mergedAt = new Map<string, number>();
  /** `repo#pr` -> signature of the last check run published, so an unchanged evaluation writes nothing. */
  const published = new Map<string, string>();

  async function report(
    ctx: ProcessorContext,
    ev: Evaluation,
    r: Report,
    task: Task | null,
  ): Promise<void> {
    const s = ev.snapshot;
    const firstUnmet = ev.firstUnmet ? conditionLine(ev.firstUnmet) : null;
    const signature = JSON.stringify([
      s.headSha,
      r.state,
      r.next,
      ev.conditions.map((c) => [c.id, c.met, c.detail]),
    ]);
    const key = `${ctx.repoName.toLowerCase()}#${s.number}`;
    if (published.get(key) !== signature) {
      await publishCheckRun(ctx.octokit, ctx.repo, {
        name: CHECK_NAME,
        headSha: s.headSha,
        conclusion: r.conclusion,
        title: r.headline.slice(0, 250),
        summary: checkRunSummary(ev, r.headline, r.next),
      });
      if (published.size > 5000) published.clear();
      published.set(key, signature);
    }
    ctx.store.automerge.save({
      repo: ctx.repoName,
      pr: s.number,
      headSha: s.headSha,
      state: r.state,
      firstUnmet,
      conditions: ev.conditions.map((c) => ({ id: c.id, met: c.met, detail: c.detail })),
    });
    ctx.store.runs.record({
      repo: ctx.repoName,
      kind: "automerge",
      ref: `pr:${s.number}`,
      url: s.url,
      taskId: task?.id ?? null,
      status: r.run,
      summary: `${r.headline}. ${r.next}`.slice(0, 1000),
    });
  }

  /** The report for an evaluation that is not (yet) mergeable. */
  function waitingReport(ev: Evaluation): Report {
    const unmet = ev.conditions.filter((c) => !c.met);
    const first = ev.firstUnmet!;
    const label = CONDITION_LABELS[first.id];
    if (unmet.some((c) => c.kind === "blocked")) {
      const b = unmet.find((c) => c.kind === "blocked")!;
      return {
        state: "blocked",
        headline: `Not merging: ${CONDITION_LABELS[b.id]}`,
        next: `bg-agent will not merge this PR as it is (${CONDITION_LABELS[b.id].toLowerCase()}: ${b.detail}). It is not retried; a new push, review or label re-evaluates it, and a person can merge it by hand.`,
        conclusion: "neutral",
        run: "waiting",
      };
    }
    const retries = unmet.map((c) => c.retryInMs).filter((x): x is number => x !== undefined);
    if (retries.length) {
      const inMs = Math.min(...retries);
      return {
        state: "waiting",
        headline: `Waiting: ${label}`,
        next: `bg-agent looks again in ${minutes(inMs)}, and whenever a check finishes or a review arrives.`,
        conclusion: "neutral",
        run: "waiting",
        retryAt: now() + inMs,
      };
    }
    const people = unmet
      .filter((c) => c.kind === "person")
      .map((c) => CONDITION_LABELS[c.id].toLowerCase());
    return {
      state: "waiting",
      headline: `Waiting: ${label}`,
      next: people.length
        ? `waiting for a person (${people.join(", ")}); bg-agent re-evaluates on the next push, review, label or check event.`
        : "bg-agent re-evaluates on the next push, review, label or check event.",
      conclusion: "neutral",
      run: "waiting",
    };
  }

  async function handlePr(
    ctx: ProcessorContext,
    number: number,
    task: Task | null,
  ): Promise<PrResult> {
    const log = ctx.log.child({ pr: number });
    const ev = await evaluatePull(ctx, number);
    if (!ev) return { pr: number, state: "missing", detail: `PR #${number} does not exist` };
    const s = ev.snapshot;
    if (!ev.candidate) {
      const why = ev.firstUnmet ? conditionLine(ev.firstUnmet) : "not a candidate";
      log.debug({ why }, "not an automerge candidate");
      if (!ctx.env.dryRun) {
        const prior = ctx.store.automerge.get(ctx.repoName, number);
        // A PR bg-agent reported on before: say that it no longer considers it.
        const reported = prior?.headSha === s.headSha && prior.firstUnmet === why;
        if (prior && prior.state !== "merged" && prior.state !== "closed" && !reported) {
          const closed = s.state !== "open" || s.merged;
          if (closed) ctx.store.automerge.save({ ...prior, state: "closed", firstUnmet: why });
          else
            await report(
              ctx,
              ev,
              {
                state: "blocked",
                headline: `Not a candidate: ${CONDITION_LABELS[ev.firstUnmet!.id]}`,
                next: `bg-agent does not consider this PR (${why}).`,
                conclusion: "neutral",
                run: "skipped",
              },
              task,
            );
        }
      }
      return { pr: number, state: "not_candidate", detail: why };
    }

    if (ev.ready) {
      const baseKey = `${ctx.repoName.toLowerCase()}|${s.baseRef}`;
      const last = mergedAt.get(baseKey);
      if (last !== undefined && now() - last < settleMs) {
        const retryAt = last + settleMs;
        const r: Report = {
          state: "waiting",
          headline: "Waiting: another PR was just merged into the base",
          next: `bg-agent merged another PR into ${s.baseRef} in this pass; it looks at this one again in ${minutes(retryAt - now())}, so its checks run against the new base.`,
          conclusion: "neutral",
          run: "waiting",
          retryAt,
        };
        if (ctx.env.dryRun) log.info(`dry-run: would wait: ${r.next}`);
        else await report(ctx, ev, r, task);
        return { pr: number, state: "waiting", detail: r.headline, retryAt };
      }
      if (ctx.env.dryRun) {
        log.info(
          `dry-run: would ${ev.via === "merge" ? "merge" : `hand to GitHub (${ev.via})`} #${number} with ${ev.method.method}`,
        );
        return {
          pr: number,
          state: "waiting",
          detail: `dry-run: would merge with ${ev.method.method}`,
        };
      }
      const { result, fresh } = await mergeIfStillReady(ctx, ev);
      return afterMerge(ctx, fresh, result, task, baseKey);
    }

    // Behind, and everything else holds: bring the branch up to date, then wait for its checks.
    const unmet = ev.conditions.filter((c) => !c.met);
    if (ctx.config.automerge.update_branch && unmet.length === 1 && unmet[0]!.id === "up_to_date") {
      if (ctx.env.dryRun) {
        log.info(`dry-run: would update the branch of #${number}`);
        return { pr: number, state: "waiting", detail: "dry-run: would update the branch" };
      }
      return afterMerge(ctx, ev, await updateBranch(ctx, ev), task, null);
    }

    const r = waitingReport(ev);
    if (ctx.env.dryRun) log.info(`dry-run: would wait (${r.headline}): ${r.next}`);
    else await report(ctx, ev, r, task);
    return {
      pr: number,
      state: r.state,
      detail: ev.firstUnmet ? conditionLine(ev.firstUnmet) : r.headline,
      ...(r.retryAt ? { retryAt: r.retryAt } : {}),
    };
  }

  async function afterMerge(
    ctx: ProcessorContext,
    ev: Evaluation,
    result: MergeResult,
    task: Task | null,
    baseKey: string | null,
  ): Promise<PrResult> {
    const s = ev.snapshot;
    const number = s.number;
    switch (result.kind) {
      case "merged": {
        if (baseKey) mergedAt.set(baseKey, now());
        const how = `merged this PR with ${result.method}`;
        await report(
          ctx,
          ev,
          {
            state: "merged",
            headline: `Merged with ${result.method}`,
            next: `merged at ${result.sha.slice(0, 7)}.`,
            conclusion: "success",
            run: "merged",
          },
          task,
        );
        await upsertComment(
          ctx.octokit,
          ctx.repo,
          number,
          "automerge-merged",
          number,
          mergedComment(ev, how),
        );
        if (ctx.env.linear) {
          const done = await updateLinear(
            ctx.env.linear,
            s,
            ctx.config.automerge.linear_done_state,
            ctx.log,
          );
          if (done.length) ctx.log.info({ pr: number, linear: done }, "moved linked Linear issues");
        }
        return { pr: number, state: "merged", detail: how };
      }
      case "queued":
        // GitHub's auto-merge may merge at once; a merge queue orders its entries itself.
        if (baseKey && result.via === "auto_merge") mergedAt.set(baseKey, now());
        await report(
          ctx,
          ev,
          {
            state: "queued",
            headline:
              result.via === "merge_queue" ? "In the merge queue" : "GitHub auto-merge enabled",
            next: `${result.detail}; GitHub merges it when its own requirements hold.`,
            conclusion: "success",
            run: "ok",
          },
          task,
        );
        return { pr: number, state: "queued", detail: result.detail };
      case "updated": {
        const retryAt = now() + UPDATED_RECHECK_MS;
        await report(
          ctx,
          ev,
          {
            state: "waiting",
            headline: "Waiting: branch updated",
            next: `${result.detail}; bg-agent looks again in ${minutes(UPDATED_RECHECK_MS)}.`,
            conclusion: "neutral",
            run: "waiting",
            retryAt,
          },
          task,
        );
        return { pr: number, state: "waiting", detail: result.detail, retryAt };
      }
      case "retry": {
        const retryAt = now() + result.inMs;
        await report(
          ctx,
          ev,
          {
            state: "waiting",
            headline: "Waiting: the head moved",
            next: `${result.reason} (in ${minutes(result.inMs)}).`,
            conclusion: "neutral",
            run: "waiting",
            retryAt,
          },
          task,
        );
        return { pr: number, state: "waiting", detail: result.reason, retryAt };
      }
      case "refused":
        await report(
          ctx,
          ev,
          {
            state: "waiting",
            headline: "Waiting: GitHub refused the merge",
            next: `${result.reason}. bg-agent re-evaluates on the next push, review, label or check event.`,
            conclusion: "neutral",
            run: "waiting",
          },
          task,
        );
        return { pr: number, state: "waiting", detail: result.reason };
      case "not_ready": {
        // The re-read found something unmet: report the fresh evaluation.
        if (!ev.candidate || ev.ready)
          return { pr: number, state: "not_candidate", detail: "changed before merging" };
        const r = waitingReport(ev);
        await report(ctx, ev, r, task);
        return {
          pr: number,
          state: r.state,
          detail: ev.firstUnmet ? conditionLine(ev.firstUnmet) : r.headline,
          ...(r.retryAt ? { retryAt: r.retryAt } : {}),
        };
      }
    }
  }

  /** PR numbers a task is about: `pr:<n>`, or the open PRs whose head is `sha:<sha>`. */
  async function prsOf(ctx: ProcessorContext, task: Task): Promise<number[]> {
    if (task.source.startsWith("pr:")) return [prPayload.parse(task.payload).pr];
    if (task.source.startsWith("sha:")) {
      const { headSha } = shaPayload.parse(task.payload);
      const prs = associatedSchema.parse(
        await ctx.octokit.paginate(ctx.octokit.rest.repos.listPullRequestsAssociatedWithCommit, {
          ...ctx.repo,
          commit_sha: headSha,
          per_page: 100,
        }),
      );
      return prs
        .filter(
          (p) =>
            p.state === "open" &&
            p.head.sha === headSha &&
            p.base.repo.full_name.toLowerCase() === ctx.repoName.toLowerCase(),
        )
        .map((p) => p.number)
        .sort((a, b) => a - b);
    }
    throw new Error(`unknown automerge source "${task.source}": expected pr:<n> or sha:<sha>`);
  }

  return {
    type: "automerge",
    usesLlm: false,
    batchSize: () => 20,

    async sweep(ctx) {
      if (!ctx.config.automerge.enabled) return;
      const prs = z
        .array(z.object({ number: z.number().int(), head: z.object({ sha: z.string() }) }))
        .parse(
          await ctx.octokit.paginate(ctx.octokit.rest.pulls.list, {
            ...ctx.repo,
            state: "open",
            per_page: 100,
          }),
        );
      for (const pr of prs) {
        ctx.store.tasks.enqueue({
          repo: ctx.repoName,
          type: "automerge",
          source: `pr:${pr.number}`,
          payload: { pr: pr.number, headSha: pr.head.sha },
        });
      }
      ctx.log.debug({ count: prs.length }, "automerge sweep queued the open PRs");
    },

    async process(ctx, tasks) {
      const out = new Map<number, TaskOutcome>();
      if (!ctx.config.automerge.enabled) {
        for (const t of tasks)
          out.set(t.id, {
            status: "skipped",
            reason: "automerge is disabled (automerge.enabled: false)",
          });
        return out;
      }
      // Oldest PRs first: with one merge per base per pass, they go first.
      const order = (t: Task) =>
        Number(/^pr:(\d+)$/.exec(t.source)?.[1] ?? Number.MAX_SAFE_INTEGER);
      for (const task of [...tasks].sort((a, b) => order(a) - order(b))) {
        const log = ctx.log.child({ task: task.id, source: task.source });
        let prs: number[];
        try {
          prs = await prsOf(ctx, task);
        } catch (e) {
          const bad =
            e instanceof z.ZodError || /unknown automerge source/.test((e as Error).message);
          out.set(task.id, {
            status: "failed",
            error: `cannot read the task: ${(e as Error).message}`,
            permanent: bad,
          });
          continue;
        }
        if (!prs.length) {
          out.set(task.id, {
            status: "done",
            result: { prs: [], note: "no open PR has this head" },
          });
          continue;
        }
        const results: PrResult[] = [];
        let error: string | null = null;
        let limitedUntil: number | undefined;
        for (const n of prs) {
          try {
            results.push(await handlePr(ctx, n, task));
          } catch (e) {
            log.error({ err: e, pr: n }, "automerge evaluation failed");
            error = `PR #${n}: ${(e as Error).message}`;
            const until = rateLimitedUntil(e);
            if (until !== undefined) limitedUntil = Math.max(limitedUntil ?? 0, until);
          }
        }
        // A GitHub rate limit is a wait, not a failure: pending until it lifts, no attempt used.
        if (error && limitedUntil !== undefined) {
          out.set(task.id, {
            status: "retry",
            at: limitedUntil,
            reason: `GitHub rate limit: ${error}; waits until ${new Date(limitedUntil).toISOString()}`,
          });
          continue;
        }
        if (error) {
          out.set(task.id, { status: "failed", error });
          continue;
        }
        const retries = results.map((r) => r.retryAt).filter((x): x is number => x !== undefined);
        if (retries.length) {
          out.set(task.id, {
            status: "retry",
            at: Math.min(...retries),
            reason: results
              .filter((r) => r.retryAt)
              .map((r) => `#${r.pr}: ${r.detail}`)
              .join("; ")
              .slice(0, 500),
          });
        } else {
          out.set(task.id, {
            status: "done",
            result: results.map((r) => ({ pr: r.pr, state: r.state, detail: r.detail })),
          });
        }
      }
      return out;
    },
  };
}
