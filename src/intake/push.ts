import { z } from "zod";
import type { EmitterWebhookEventName } from "@octokit/webhooks";
import { CONFIG_PATH } from "../config/load.js";
import { parsePayload, rememberRepo, targetOf } from "./common.js";
import type { EventTarget } from "./common.js";
import type { IntakeDeps, WebhookEvent } from "./types.js";

export const PUSH_EVENTS = ["push"] as const satisfies readonly EmitterWebhookEventName[];

const commitSchema = z.object({
  added: z.array(z.string()).default([]),
  modified: z.array(z.string()).default([]),
  removed: z.array(z.string()).default([]),
});

const payloadSchema = z.object({
  ref: z.string(),
  after: z.string().optional(),
  deleted: z.boolean().optional(),
  commits: z.array(commitSchema).default([]),
  size: z.number().int().optional(),
  repository: z.object({
    full_name: z.string(),
    name: z.string(),
    default_branch: z.string().optional(),
    owner: z.object({ login: z.string().optional(), name: z.string().nullish() }).optional(),
  }),
});

/** GitHub lists at most 20 commits in a push payload: beyond that we cannot tell what changed. */
const MAX_LISTED_COMMITS = 20;

/**
 * A push to another branch proposes a config when it touches `.github/bg-agent.yml`, or when an
 * earlier push to the branch did (a config_check task for the branch exists): one `config_check`
 * (source `branch:<name>`, refreshed with the newest head) validates the file at that head and
 * reports it as the check run `bg-agent/config` on it, which the branch's pull request shows.
 * Only validated: the config in force stays the default branch's. Nothing is read here.
 */
async function checkProposedConfig(
  deps: IntakeDeps,
  t: EventTarget,
  p: { ref: string; after?: string | undefined },
  touched: boolean,
  deliveryId: string,
): Promise<void> {
  const branch = p.ref.slice("refs/heads/".length);
  const source = `branch:${branch}`;
  const queued = await deps.store.tx(async (txs) => {
    if (!touched && !(await txs.tasks.latestBySource(t.repo, "config_check", source))) return false;
    await rememberRepo(txs, t);
    const r = await txs.tasks.enqueue({
      repo: t.repo,
      type: "config_check",
      source,
      payload: { headSha: p.after, branch },
      deliveryId,
    });
    return r.outcome !== "unchanged";
  });
  if (queued) {
    t.log.info({ branch, headSha: p.after }, "a proposed config: its check is queued");
    deps.wake?.();
  }
}

/**
 * A push to the default branch that touches `.github/bg-agent.yml` invalidates the cached config
 * and re-reads it at once, so a broken file is reported (check run `bg-agent/config`) right away
 * and a fix takes effect on the next event. A push to an organisation's `.github` repository
 * (where `_extends` bases usually live) invalidates the config of every repository of that owner.
 */
export async function onPush(deps: IntakeDeps, event: WebhookEvent): Promise<void> {
  const t = await targetOf(deps, event);
  if (!t) return;
  const p = parsePayload(payloadSchema, event, t.log);
  if (!p) return;
  if (p.deleted || !t.defaultBranch) return;
  const listedAll =
    p.commits.length < MAX_LISTED_COMMITS && (p.size === undefined || p.size <= p.commits.length);
  const touched =
    !listedAll ||
    p.commits.some((c) => [...c.added, ...c.modified, ...c.removed].includes(CONFIG_PATH));
  if (p.ref !== `refs/heads/${t.defaultBranch}`) {
    if (p.ref.startsWith("refs/heads/") && p.after)
      await checkProposedConfig(deps, t, p, touched, event.id);
    return;
  }
  if (!touched) return;
  // Read first, write after: the delivery's writes (the fresh config cached, the owner's other
  // repositories invalidated) happen in one synchronous block after its last await.
  await deps.loadConfig(t.known, { refresh: true });
  const owner = t.repo.split("/")[0]!.toLowerCase();
  const invalidated = await deps.store.tx(async (txs) => {
    await rememberRepo(txs, t);
    const names: string[] = [];
    if (p.repository.name === ".github") {
      for (const r of await txs.repos.list({ installedOnly: true })) {
        if (r.fullName.split("/")[0]!.toLowerCase() === owner && r.fullName !== t.repo)
          names.push(r.fullName);
      }
    }
    for (const n of names) await txs.repos.invalidateConfig(n);
    return names.length + 1;
  });
  t.log.info({ invalidated }, "config changed on the default branch: re-read, cache invalidated");
}
