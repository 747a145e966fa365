import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import type { GitHubClient, RepoRef } from "../../integrations/github.js";
import type { Logger } from "../../log.js";
import { authEnv, git } from "./git.js";

/** Where a clone comes from: an HTTPS URL (with the token kept out of it) or, in tests, a local path. */
export interface RemoteSpec {
  url: string;
  token?: string;
}

/** A private copy of the repository to change, test and push from. */
export interface Workspace {
  dir: string;
  /** `checkout`: a git worktree of the runner's checkout; `clone`: a fresh clone in a temp dir. */
  mode: "checkout" | "clone";
  baseSha: string;
  git(args: string[], timeoutMs?: number): Promise<string>;
  /** Force-pushes HEAD to `branch` on the remote (the branch is bg-agent's own). */
  push(branch: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** Does a remote URL point at owner/repo? (https, ssh, or a local path ending in owner/repo.git) */
export function remoteMatches(url: string, ref: RepoRef): boolean {
  const u = url
    .trim()
    .replace(/\/+$/, "")
    .replace(/\.git$/i, "")
    .toLowerCase();
  const want = `${ref.owner}/${ref.repo}`.toLowerCase();
  return u.endsWith(`/${want}`) || u.endsWith(`:${want}`);
}

/** The clone URL and token for a repository, from the GitHub client that serves it. */
export async function remoteFromOctokit(octokit: GitHubClient, ref: RepoRef): Promise<RemoteSpec> {
  const api = String(octokit.request.endpoint.DEFAULTS.baseUrl ?? "https://api.github.com").replace(
    /\/+$/,
    "",
  );
  const server =
    api === "https://api.github.com"
      ? "https://github.com"
      : api.replace(/\/api\/v3$/i, "").replace(/\/api$/i, "");
  const auth = z
    .object({ token: z.string().min(1) })
    .safeParse(await octokit.auth({ type: "installation" }));
  return {
    url: `${server}/${ref.owner}/${ref.repo}.git`,
    ...(auth.success ? { token: auth.data.token } : {}),
  };
}

export interface OpenWorkspaceOptions {
  ref: RepoRef;
  baseBranch: string;
  /** The runner's checkout (GITHUB_WORKSPACE), used when it is a checkout of this repository. */
  checkout?: string;
  /** For a clone when there is no usable checkout. */
  remote: () => Promise<RemoteSpec>;
  log: Logger;
  tmpRoot?: string;
}

async function isCheckoutOf(dir: string, ref: RepoRef): Promise<boolean> {
  try {
    const url = (
      await git(["remote", "get-url", "origin"], { cwd: dir, timeoutMs: 10_000 })
    ).trim();
    return remoteMatches(url, ref);
  } catch {
    return false;
  }
}

/**
 * A fresh place to make the change. With the runner's checkout of this repository: a detached
 * `git worktree` of it in a temp dir (the checkout itself is never touched, and pushes use the
 * checkout's own credentials). Otherwise: a shallow clone of the base branch in a temp dir, with
 * the token sent as an HTTP header from the environment, never in the URL. `cleanup` removes it.
 */
export async function openWorkspace(o: OpenWorkspaceOptions): Promise<Workspace> {
  const tmp = await mkdtemp(join(o.tmpRoot ?? tmpdir(), "bg-fix-"));
  const dir = join(tmp, "tree");
  const removeTmp = () => rm(tmp, { recursive: true, force: true });
  try {
    if (o.checkout && (await isCheckoutOf(o.checkout, o.ref))) {
      const checkout = o.checkout;
      const remoteBase = `refs/remotes/origin/${o.baseBranch}`;
      let base = "HEAD";
      try {
        await git(["rev-parse", "--verify", "--quiet", `${remoteBase}^{commit}`], {
          cwd: checkout,
        });
        base = remoteBase;
      } catch {
        // No remote-tracking ref (a detached runner checkout): the checked-out commit is the base.
      }
      await git(["worktree", "add", "--detach", dir, base], { cwd: checkout });
      const run = (args: string[], timeoutMs?: number) =>
        git(args, { cwd: dir, ...(timeoutMs ? { timeoutMs } : {}) });
      const baseSha = (await run(["rev-parse", "HEAD"])).trim();
      o.log.debug({ dir, base, baseSha }, "fix: worktree of the runner's checkout");
      return {
        dir,
        mode: "checkout",
        baseSha,
        git: run,
        push: async (branch) => {
          await run(["push", "--force", "origin", `HEAD:refs/heads/${branch}`]);
        },
        cleanup: async () => {
          await git(["worktree", "remove", "--force", dir], { cwd: checkout }).catch(
            () => undefined,
          );
          await removeTmp();
          await git(["worktree", "prune"], { cwd: checkout }).catch(() => undefined);
        },
      };
    }
    const remote = await o.remote();
    const env = authEnv(remote.token);
    await git(
      [
        "clone",
        "--quiet",
        "--no-tags",
        "--depth",
        "50",
        "--single-branch",
        "--branch",
        o.baseBranch,
        remote.url,
        dir,
      ],
      {
        cwd: tmp,
        env,
      },
    );
    const run = (args: string[], timeoutMs?: number) =>
      git(args, { cwd: dir, env, ...(timeoutMs ? { timeoutMs } : {}) });
    const baseSha = (await run(["rev-parse", "HEAD"])).trim();
    o.log.debug({ dir, baseSha }, "fix: cloned into a temp dir");
    return {
      dir,
      mode: "clone",
      baseSha,
      git: run,
      push: async (branch) => {
        await run(["push", "--force", "origin", `HEAD:refs/heads/${branch}`]);
      },
      cleanup: removeTmp,
    };
  } catch (e) {
    await removeTmp();
    throw e;
  }
}
