/**
 * A fake MergeApi over one PR snapshot (no HTTP): answers the reads from the snapshot and records
 * every write, so tests count what was written (test/automerge/merge-api.test.ts, test/shared-state).
 */
import { evaluate } from "../../src/processors/automerge/evaluate.js";
import type { CheckRunWrite, MergeApi } from "../../src/processors/automerge/merge-api.js";
import type { PullDetails, PullSnapshot } from "../../src/processors/automerge/types.js";
import type { ProcessorContext } from "../../src/core/worker-contract.js";

export const REPO = "octo/demo";
export const HEAD = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
export const NOW = Date.parse("2026-01-05T12:00:00Z");

export function snapshot(checkState: "success" | "failure" = "success"): PullSnapshot {
  const details: PullDetails = {
    headBranchExists: true,
    baseBranchExists: true,
    requiredChecks: null,
    requiredChecksSource: "no branch protection: every check counts",
    checks: [
      {
        name: "build",
        source: "check",
        state: checkState,
        raw: checkState,
        since: NOW - 3_600_000,
      },
    ],
    reviews: [{ login: "bob", isBot: false, state: "APPROVED", permission: "write" }],
    unresolvedThreads: 0,
    nodeId: "PR_7",
    mergeQueue: { required: false, source: null },
    inMergeQueue: false,
    autoMergeEnabled: false,
    allowedMethods: { squash: true, merge: true, rebase: true },
    mergeProposal: null,
  };
  return {
    repo: REPO,
    number: 7,
    title: "Add the thing",
    body: "",
    url: `https://github.com/${REPO}/pull/7`,
    state: "open",
    merged: false,
    draft: false,
    author: { login: "alice", isBot: false },
    labels: [],
    headSha: HEAD,
    headRef: "feature",
    headRepo: REPO,
    baseRef: "main",
    mergeable: true,
    mergeableState: "clean",
    details,
  };
}

export interface Writes {
  merges: { pr: number; sha: string; method: string }[];
  checks: CheckRunWrite[];
  comments: { pr: number; kind: string; body: string }[];
  updates: number;
  queued: number;
}

/** A MergeApi over one snapshot; `mergeError` is thrown by the merge call (a fault to inject). */
export function fakeApi(
  ctx: ProcessorContext,
  s: PullSnapshot,
  mergeError?: unknown,
): { api: MergeApi; writes: Writes } {
  const writes: Writes = { merges: [], checks: [], comments: [], updates: 0, queued: 0 };
  const api: MergeApi = {
    evaluate: async (pr) =>
      pr === s.number ? evaluate(structuredClone(s), ctx.config.automerge, { now: NOW }) : null,
    openPulls: async () => [{ number: s.number, headSha: s.headSha }],
    openPullsWithHead: async (sha) => (sha === s.headSha ? [s.number] : []),
    merge: async (o) => {
      writes.merges.push({ pr: o.pr, sha: o.sha, method: o.method });
      if (mergeError) throw mergeError;
    },
    canEnqueue: () => true,
    enqueue: async () => {
      writes.queued++;
      return { position: 1 };
    },
    enableAutoMerge: async () => {
      writes.queued++;
    },
    updateBranch: async () => {
      writes.updates++;
    },
    publishCheck: async (run) => {
      writes.checks.push(run);
    },
    comment: async (o) => {
      writes.comments.push(o);
    },
    moveLinear: async () => [],
  };
  return { api, writes };
}
