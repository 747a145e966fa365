import { z } from "zod";
import type { EmitterWebhookEventName } from "@octokit/webhooks";
import { configForNewWork, parsePayload, rememberRepo, targetOf } from "./common.js";
import type { EventTarget } from "./common.js";
import { enqueueAutomerge } from "./pull-request.js";
import type { AutomergeTarget } from "./pull-request.js";
import type { IntakeDeps, WebhookEvent } from "./types.js";

export const CHECK_EVENTS = [
  "check_suite.completed",
  "check_run.completed",
  "status",
] as const satisfies readonly EmitterWebhookEventName[];

const prRefSchema = z.object({
  number: z.number().int().positive(),
  base: z
    .object({ repo: z.object({ id: z.number().int() }).partial().optional() })
    .partial()
    .optional(),
});

/** A commit SHA as GitHub sends it (SHA-1, or SHA-256 repositories): anything else is not one. */
const commitSha = z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, "a 40- or 64-digit hex SHA");

const suiteSchema = z.object({
  head_sha: commitSha,
  pull_requests: z.array(prRefSchema).nullish(),
});

const checkSuitePayload = z.object({ check_suite: suiteSchema });
const checkRunPayload = z.object({ check_run: suiteSchema });
const statusPayload = z.object({ sha: commitSha, state: z.string() });

/** PRs of this repository among a check's `pull_requests` (forks' PRs are listed with other base repos). */
function ownPrs(
  t: EventTarget,
  prs: z.infer<typeof prRefSchema>[],
  headSha: string,
): AutomergeTarget[] {
  const seen = new Set<number>();
  const out: AutomergeTarget[] = [];
  for (const p of prs) {
    const baseId = p.base?.repo?.id;
    if (t.repoId !== null && baseId !== undefined && baseId !== t.repoId) continue;
    if (seen.has(p.number)) continue;
    seen.add(p.number);
    out.push({ pr: p.number, headSha });
  }
  return out;
}

/**
 * check_suite/check_run completed: an `automerge` evaluation for each PR listed. `status`
 * carries no PRs: one evaluation keyed by the SHA (source `sha:<sha>`), which the automerge
 * processor resolves to its open PRs. A pending status changes nothing and queues nothing.
 */
export async function onChecks(deps: IntakeDeps, event: WebhookEvent): Promise<void> {
  const t = await targetOf(deps, event);
  if (!t) return;
  let prs: AutomergeTarget[] = [];
  let bySha: string | null = null;
  if (event.name === "status") {
    const p = parsePayload(statusPayload, event, t.log);
    if (!p) return;
    if (p.state === "pending") {
      t.log.debug("skip: a pending status cannot make a PR mergeable");
      return;
    }
    bySha = p.sha;
  } else {
    const p = parsePayload(
      event.name === "check_suite" ? checkSuitePayload : checkRunPayload,
      event,
      t.log,
    );
    if (!p) return;
    const suite = "check_suite" in p ? p.check_suite : p.check_run;
    prs = ownPrs(t, suite.pull_requests ?? [], suite.head_sha);
    if (!prs.length) {
      t.log.debug(
        { headSha: suite.head_sha },
        "skip: no pull request of this repository at that SHA",
      );
      return;
    }
  }
  const config = await configForNewWork(deps, t);
  if (!config) return;
  if (!config.automerge.enabled) {
    t.log.debug("skip: automerge is disabled");
    return;
  }
  const queued = await deps.store.tx(async (txs) => {
    await rememberRepo(txs, t);
    if (bySha === null) return await enqueueAutomerge(txs, t, prs, event.id);
    const r = await txs.tasks.enqueue({
      repo: t.repo,
      type: "automerge",
      source: `sha:${bySha}`,
      payload: { headSha: bySha },
      deliveryId: event.id,
    });
    return r.outcome === "unchanged" ? 0 : 1;
  });
  t.log.info(
    { queued, prs: prs.map((p) => p.pr), sha: bySha ?? undefined },
    "automerge evaluation queued",
  );
  if (queued) deps.wake?.();
}
