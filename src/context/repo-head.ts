import type { ProcessorContext, WorkerEnv } from "../worker/types.js";

export interface RepoHead {
  defaultBranch: string;
  sha: string;
}

const cache = new WeakMap<WorkerEnv, Map<string, Promise<RepoHead>>>();

/** The default branch and its head commit, read once per run and repository. */
export function repoHead(
  ctx: Pick<ProcessorContext, "env" | "octokit" | "repo" | "repoName">,
): Promise<RepoHead> {
  let m = cache.get(ctx.env);
  if (!m) cache.set(ctx.env, (m = new Map()));
  const key = ctx.repoName.toLowerCase();
  let p = m.get(key);
  if (!p) {
    p = (async () => {
      const { data: repo } = await ctx.octokit.rest.repos.get({ ...ctx.repo });
      const { data: branch } = await ctx.octokit.rest.repos.getBranch({
        ...ctx.repo,
        branch: repo.default_branch,
      });
      return { defaultBranch: repo.default_branch, sha: branch.commit.sha };
    })();
    p.catch(() => m.delete(key));
    m.set(key, p);
  }
  return p;
}
