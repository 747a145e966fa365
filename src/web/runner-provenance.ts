import { z } from "zod";
import type { RepoConfig } from "../config/schema.js";
import type { Repository } from "../store/repositories.js";

/**
 * The claims of a GitHub Actions OIDC token that say where a run comes from. Optional here so a
 * token without one is refused naming the missing claim, not as "not a GitHub token".
 */
export const provenanceClaimsSchema = z.object({
  repository_id: z.string().optional(),
  ref: z.string().optional(),
  workflow_ref: z.string().optional(),
  job_workflow_ref: z.string().optional(),
  event_name: z.string().optional(),
});
export type ProvenanceClaims = z.infer<typeof provenanceClaimsSchema> & { repository: string };

export type ProvenanceVerdict =
  | { ok: true }
  | {
      ok: false;
      /** The claim that failed, e.g. `ref`. */
      claim: string;
      /** What was expected and what to change, for the runner's 403 and the audit. */
      message: string;
    };

/**
 * Decides whether a verified runner token comes from the run bg-agent accepts as a worker of its
 * repository: the same repository (by id: a deleted and re-created repository of the same name
 * has another), its default branch, the configured workflow file (`worker.workflow`) on that
 * branch, and one of the configured events (`worker.events`). Everything else — another branch, a
 * pull request's run, another workflow file — runs code the repository's owner did not put on
 * the default branch, so it may not claim work, complete it or report spend.
 */
export function checkProvenance(
  claims: ProvenanceClaims,
  repo: Pick<Repository, "fullName" | "repoId" | "defaultBranch">,
  worker: Pick<RepoConfig["worker"], "workflow" | "events">,
): ProvenanceVerdict {
  const fail = (claim: string, message: string): ProvenanceVerdict => ({
    ok: false,
    claim,
    message,
  });
  if (repo.repoId === null)
    return fail(
      "repository_id",
      `bg-agent does not know the id of ${repo.fullName} yet, so it cannot tell it from a re-created repository of the same name: it learns it from the next webhook (or reinstall the app on it)`,
    );
  if (claims.repository_id !== String(repo.repoId))
    return fail(
      "repository_id",
      `repository_id ${claims.repository_id ?? "(missing)"} is not ${repo.fullName}'s id (${repo.repoId}): the token comes from another repository of that name`,
    );
  if (!repo.defaultBranch)
    return fail(
      "ref",
      `bg-agent does not know ${repo.fullName}'s default branch yet: it learns it from the next webhook`,
    );
  const ref = `refs/heads/${repo.defaultBranch}`;
  if (claims.ref !== ref)
    return fail(
      "ref",
      `ref ${claims.ref ?? "(missing)"} is not the default branch (${ref}): only runs on the default branch may work for bg-agent`,
    );
  const workflow = `${repo.fullName}/${worker.workflow}@${ref}`.toLowerCase();
  for (const key of ["workflow_ref", "job_workflow_ref"] as const) {
    const value = claims[key];
    if (value === undefined && key === "job_workflow_ref") continue;
    if (value?.toLowerCase() !== workflow)
      return fail(
        key,
        `${key} ${value ?? "(missing)"} is not the configured workflow ${repo.fullName}/${worker.workflow}@${ref}: run the Action from that workflow, or set worker.workflow in .github/bg-agent.yml`,
      );
  }
  const events: readonly string[] = worker.events;
  if (!claims.event_name || !events.includes(claims.event_name))
    return fail(
      "event_name",
      `event_name ${claims.event_name ?? "(missing)"} is not one of ${events.join(", ")} (worker.events in .github/bg-agent.yml)`,
    );
  return { ok: true };
}
