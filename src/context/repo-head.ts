import { runSlot } from "../worker/run-state.js";
import type { ProcessorContext } from "../worker/types.js";

export interface RepoHead {
  defaultBranch: string;
  sha: string;
}

const HEADS = runSlot("repo-head", () => new Map<string, { at: number; p: Promise<RepoHead> }>());
/** The app's worker env lives as long as the process: the head is re-read after this long. */
export const HEAD_TTL_MS = 5 * 60_000;

/** The default branch and its head commit, read once per run (at most every 5 minutes) and repository. */
export function repoHead(
  ctx: Pick<ProcessorContext, "env" | "octokit" | "repo" | "repoName">,
): Promise<RepoHead> {
  const m = ctx.env.run.memo(HEADS);
  const key = ctx.repoName.toLowerCase();
  const hit = m.get(key);
  if (hit && Date.now() - hit.at < HEAD_TTL_MS) return hit.p;
  const p = (async () => {
    const { data: repo } = await ctx.octokit.rest.repos.get({ ...ctx.repo });
    const { data: branch } = await ctx.octokit.rest.repos.getBranch({
      ...ctx.repo,
      branch: repo.default_branch,
    });
    return { defaultBranch: repo.default_branch, sha: branch.commit.sha };
  })();
  p.catch(() => m.delete(key));
  m.set(key, { at: Date.now(), p });
  return p;
}
