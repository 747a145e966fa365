import { z } from "zod";
import type { EmitterWebhookEventName } from "@octokit/webhooks";
import { eventLabel, parsePayload } from "./common.js";
import type { IntakeDeps, WebhookEvent } from "./types.js";

export const INSTALLATION_EVENTS = [
  "installation.created",
  "installation.deleted",
  "installation.suspend",
  "installation.unsuspend",
  "installation.new_permissions_accepted",
  "installation_repositories.added",
  "installation_repositories.removed",
] as const satisfies readonly EmitterWebhookEventName[];

const repoRef = z.object({
  id: z.number().int().optional(),
  full_name: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/),
});

const installationPayload = z.object({
  action: z.string(),
  installation: z.object({ id: z.number().int().positive() }),
  repositories: z.array(repoRef).nullish(),
});

const installationReposPayload = z.object({
  action: z.string(),
  installation: z.object({ id: z.number().int().positive() }),
  repositories_added: z.array(repoRef).default([]),
  repositories_removed: z.array(repoRef).default([]),
});

/**
 * installation created/deleted/suspend/unsuspend/new_permissions_accepted and
 * installation_repositories added/removed: the repositories bg-agent knows. A repository that
 * goes away (removed, uninstalled, suspended) is kept for history, marked not installed, and its
 * pending tasks are cancelled; webhooks for it are skipped until it is added again.
 */
export async function onInstallation(deps: IntakeDeps, event: WebhookEvent): Promise<void> {
  const log = deps.log.child({ event: eventLabel(event), delivery: event.id });
  const { store } = deps;
  let added: z.infer<typeof repoRef>[] = [];
  let removed: string[] = [];
  let installationId: number;
  if (event.name === "installation") {
    const p = parsePayload(installationPayload, event, log);
    if (!p) return;
    installationId = p.installation.id;
    const repos = p.repositories ?? [];
    if (p.action === "deleted" || p.action === "suspend") {
      const result = await store.tx(async (t) => {
        const gone = new Set(await t.repos.forgetInstallation(installationId));
        for (const r of repos) gone.add(r.full_name);
        await t.repos.forget([...gone]);
        let cancelled = 0;
        for (const repo of gone)
          cancelled += await t.tasks.cancelPending(
            { repo },
            `bg-agent was ${p.action === "suspend" ? "suspended" : "uninstalled"}`,
          );
        return { repos: gone.size, cancelled };
      });
      log.info({ installationId, ...result }, `installation ${p.action}: repositories forgotten`);
      return;
    }
    added = repos;
  } else {
    const p = parsePayload(installationReposPayload, event, log);
    if (!p) return;
    installationId = p.installation.id;
    added = p.repositories_added;
    removed = p.repositories_removed.map((r) => r.full_name);
  }
  const cancelled = await store.tx(async (t) => {
    for (const r of added)
      await t.repos.upsert({ fullName: r.full_name, repoId: r.id ?? null, installationId });
    await t.repos.forget(removed);
    let n = 0;
    for (const repo of removed)
      n += await t.tasks.cancelPending({ repo }, "the repository was removed from bg-agent");
    return n;
  });
  log.info(
    { installationId, added: added.length, removed: removed.length, cancelled },
    "repositories updated",
  );
}
