import { z } from "zod";
import type { EmitterWebhookEventName } from "@octokit/webhooks";
import { issueContentHash } from "../util/hash.js";
import { configForNewWork, parsePayload, rememberRepo, targetOf } from "./common.js";
import type { IntakeDeps, WebhookEvent } from "./types.js";

export const ISSUES_EVENTS = [
  "issues.opened",
  "issues.edited",
  "issues.labeled",
  "issues.unlabeled",
  "issues.reopened",
  "issues.closed",
  "issues.deleted",
  "issues.transferred",
] as const satisfies readonly EmitterWebhookEventName[];

const issueSchema = z.object({
  number: z.number().int().positive(),
  title: z.string(),
  body: z.string().nullish(),
  state: z.string().optional(),
  html_url: z.string().optional(),
  labels: z
    .array(z.union([z.object({ name: z.string() }), z.string()]))
    .nullish()
    .transform((ls) => (ls ?? []).map((l) => (typeof l === "string" ? l : l.name))),
  pull_request: z.unknown().optional(),
});

const payloadSchema = z.object({ action: z.string(), issue: issueSchema });

const GONE = new Set(["closed", "deleted", "transferred"]);

/**
 * An issue carrying a configured tech-debt label gets a `tech_debt_analysis` task (source
 * `issue:<n>`), queued again when its title or body changes; closing it, deleting or
 * transferring it, or removing the label cancels the pending analysis.
 */
export async function onIssues(deps: IntakeDeps, event: WebhookEvent): Promise<void> {
  const t = await targetOf(deps, event);
  if (!t) return;
  const p = parsePayload(payloadSchema, event, t.log);
  if (!p) return;
  const issue = p.issue;
  const log = t.log.child({ issue: issue.number });
  const source = `issue:${issue.number}`;
  const cancel = async (reason: string): Promise<void> => {
    const n = await deps.store.tx(async (txs) => {
      await rememberRepo(txs, t);
      return await txs.tasks.cancelPending(
        { repo: t.repo, type: "tech_debt_analysis", source },
        reason,
      );
    });
    log.info({ cancelled: n }, reason);
  };
  if (issue.pull_request !== undefined && issue.pull_request !== null) {
    log.debug("skip: a pull request, not an issue");
    return;
  }
  if (GONE.has(p.action) || (issue.state !== undefined && issue.state !== "open")) {
    await cancel(
      `issue #${issue.number} was ${p.action === "transferred" || p.action === "deleted" ? p.action : "closed"}`,
    );
    return;
  }
  const config = await configForNewWork(deps, t);
  if (!config) return;
  if (!config.tech_debt.enabled) {
    log.debug("skip: tech-debt analysis is disabled");
    return;
  }
  const wanted = new Set(config.tech_debt.github.labels.map((l) => l.toLowerCase()));
  if (!issue.labels.some((l) => wanted.has(l.toLowerCase()))) {
    if (p.action === "unlabeled" || p.action === "edited")
      await cancel(`issue #${issue.number} no longer carries a tech-debt label`);
    else log.debug("skip: no tech-debt label");
    return;
  }
  const key = `${t.repo}#${issue.number}`;
  const contentHash = issueContentHash(issue.title, issue.body);
  const outcome = await deps.store.tx(async (txs) => {
    await rememberRepo(txs, t);
    const analysed = await txs.analyses.analysedHash(key);
    if (analysed === contentHash && !(await txs.tasks.open(t.repo, "tech_debt_analysis", source))) {
      return "analysed";
    }
    // Analysed at other text: the fix planned for it is no longer approvable, and the new
    // analysis proposes again. (No analysis, no plan: nothing to expire, no write.)
    if (analysed !== undefined && analysed !== contentHash)
      await txs.proposals.expireStale(t.repo, "fix", source, contentHash);
    return (
      await txs.tasks.enqueue({
        repo: t.repo,
        type: "tech_debt_analysis",
        source,
        payload: {
          key,
          number: issue.number,
          title: issue.title,
          body: issue.body ?? "",
          ...(issue.html_url ? { url: issue.html_url } : {}),
        },
        contentHash,
        deliveryId: event.id,
      })
    ).outcome;
  });
  log.info(
    { outcome, contentHash },
    outcome === "analysed" ? "skip: this text was analysed already" : "tech-debt analysis queued",
  );
}
