import { httpStatus } from "../../integrations/github.js";
import type { Logger } from "../../log.js";
import { errText } from "../../util/errors.js";
import type { AutomergeConfig } from "./evaluate.js";
import type { MergeApi } from "./merge-api.js";
import type { Evaluation, MergeMethod, PullSnapshot } from "./types.js";

/** How soon to re-evaluate after the head moved or the branch was updated. */
export const HEAD_MOVED_RECHECK_MS = 60_000;
export const UPDATED_RECHECK_MS = 5 * 60_000;

export type MergeResult =
  | { kind: "merged"; sha: string; method: MergeMethod }
  | { kind: "queued"; via: "merge_queue" | "auto_merge"; detail: string }
  /** The branch was brought up to date; new checks run on a new head. */
  | { kind: "updated"; detail: string }
  /** Re-evaluate later without counting a failure (the head moved). */
  | { kind: "retry"; reason: string; inMs: number }
  /** GitHub refused (405 and the like): waiting, with GitHub's reason. */
  | { kind: "refused"; reason: string }
  /** The re-read right before merging found something unmet. */
  | { kind: "not_ready" };

/** Fills `{title}`, `{number}`, `{body}`, `{author}` in a commit title or body template. */
export function fillTemplate(
  template: string,
  s: Pick<PullSnapshot, "title" | "number" | "body" | "author">,
): string {
  const values: Record<string, string> = {
    title: s.title,
    number: String(s.number),
    body: s.body,
    author: s.author.login,
  };
  return template.replace(/\{(title|number|body|author)\}/g, (_m, k: string) => values[k] ?? "");
}

export function commitMessage(
  cfg: AutomergeConfig,
  s: PullSnapshot,
): { title: string; body: string } {
  return {
    title:
      fillTemplate(cfg.commit_title, s).replace(/\r?\n/g, " ").trim().slice(0, 250) ||
      `#${s.number}`,
    body: fillTemplate(cfg.commit_body, s).slice(0, 60_000),
  };
}

const errorMessage = (e: unknown): string => {
  return errText(e)
    .replace(/\s+-\s+https:\/\/docs\.github\.com\S*/g, "")
    .slice(0, 300);
};

/** What the merge step needs besides the PR: the API, the repository's automerge config, a log. */
export interface MergeStepDeps {
  api: MergeApi;
  cfg: AutomergeConfig;
  log: Logger;
}

/**
 * Merges an evaluated PR, after reading everything again: only when the fresh evaluation is
 * still ready and the head is still the SHA that was evaluated; the merge call pins that SHA.
 * `fresh` receives the re-read evaluation (the one to report).
 */
export async function mergeIfStillReady(
  deps: MergeStepDeps,
  evaluated: Evaluation,
): Promise<{ result: MergeResult; fresh: Evaluation }> {
  const sha = evaluated.snapshot.headSha;
  const fresh = await deps.api.evaluate(evaluated.snapshot.number);
  if (!fresh) return { result: { kind: "not_ready" }, fresh: evaluated };
  if (fresh.snapshot.headSha !== sha) {
    return {
      result: {
        kind: "retry",
        reason: `the head moved from ${sha.slice(0, 7)} to ${fresh.snapshot.headSha.slice(0, 7)} after evaluation; re-evaluate later`,
        inMs: HEAD_MOVED_RECHECK_MS,
      },
      fresh,
    };
  }
  if (!fresh.ready || !fresh.snapshot.details || !fresh.method.method)
    return { result: { kind: "not_ready" }, fresh };
  return { result: await performMerge(deps, fresh), fresh };
}

async function performMerge(
  { api, cfg, log }: MergeStepDeps,
  ev: Evaluation,
): Promise<MergeResult> {
  const s = ev.snapshot;
  const d = s.details!;
  const method = ev.method.method!;
  // A rebase keeps the PR's own commits: no commit text.
  const commit = method === "rebase" ? undefined : commitMessage(cfg, s);
  const pinned = { sha: s.headSha, method, ...(commit ? { commit } : {}) };
  // A server without `enqueuePullRequest` (older GitHub Enterprise Server) merges directly; the
  // merge is still subject to the branch's rules, so GitHub refuses it if they forbid it.
  if (ev.via === "merge_queue" && api.canEnqueue()) {
    if (d.inMergeQueue)
      return { kind: "queued", via: "merge_queue", detail: "already in the merge queue" };
    try {
      const entry = await api.enqueue({ nodeId: d.nodeId, sha: s.headSha });
      if (entry !== "unsupported") {
        const pos = entry.position;
        return {
          kind: "queued",
          via: "merge_queue",
          detail: `added to the merge queue (${d.mergeQueue.source ?? "automerge.merge_queue"})${pos ? `, position ${pos}` : ""}`,
        };
      }
    } catch (e) {
      return graphqlRefusal(e, "GitHub did not add it to the merge queue");
    }
  }
  if (ev.via === "auto_merge") {
    if (d.autoMergeEnabled)
      return { kind: "queued", via: "auto_merge", detail: "GitHub auto-merge is already enabled" };
    try {
      await api.enableAutoMerge({ nodeId: d.nodeId, ...pinned });
      return { kind: "queued", via: "auto_merge", detail: `GitHub auto-merge enabled (${method})` };
    } catch (e) {
      // GitHub refuses auto-merge for a PR that can merge right now ("clean status"): merge it.
      if (!/clean status/i.test(errorMessage(e)))
        return graphqlRefusal(e, "GitHub did not enable auto-merge");
      log.info({ pr: s.number }, "auto-merge refused for a clean PR; merging directly");
    }
  }
  try {
    await api.merge({ pr: s.number, ...pinned });
    return { kind: "merged", sha: s.headSha, method };
  } catch (e) {
    const status = httpStatus(e);
    if (status === 409) {
      return {
        kind: "retry",
        reason: `GitHub says the head moved (409: ${errorMessage(e)}); re-evaluate later`,
        inMs: HEAD_MOVED_RECHECK_MS,
      };
    }
    if (status === 405 || status === 403 || status === 422) {
      return {
        kind: "refused",
        reason: `GitHub refused the merge (${status}: ${errorMessage(e)})`,
      };
    }
    throw e;
  }
}

function graphqlRefusal(e: unknown, what: string): MergeResult {
  const status = httpStatus(e);
  if (status !== undefined && status >= 500) throw e;
  return { kind: "refused", reason: `${what}: ${errorMessage(e)}` };
}

/** Brings a PR that is behind up to date (`automerge.update_branch`), pinned to the evaluated head. */
export async function updateBranch(api: MergeApi, ev: Evaluation): Promise<MergeResult> {
  const s = ev.snapshot;
  try {
    await api.updateBranch({ pr: s.number, sha: s.headSha });
    return {
      kind: "updated",
      detail: `updated ${s.headRef} with ${s.baseRef}; waiting for the checks on the new head`,
    };
  } catch (e) {
    const status = httpStatus(e);
    // 422 "expected head sha didn't match current head ref": someone pushed; look again soon.
    if (status === 409 || (status === 422 && /expected/i.test(errorMessage(e)))) {
      return {
        kind: "retry",
        reason: `could not update the branch (${status}: ${errorMessage(e)})`,
        inMs: HEAD_MOVED_RECHECK_MS,
      };
    }
    if (status === 403 || status === 422) {
      return {
        kind: "refused",
        reason: `GitHub refused to update the branch (${status}: ${errorMessage(e)})`,
      };
    }
    throw e;
  }
}
