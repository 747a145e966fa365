import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import type { AutomergeConfig } from "../../src/processors/automerge/evaluate.js";
import { chooseMethod, evaluate, isIgnoredCheck } from "../../src/processors/automerge/evaluate.js";
import type {
  CheckInfo,
  Condition,
  PullDetails,
  PullSnapshot,
} from "../../src/processors/automerge/types.js";

const NOW = Date.parse("2026-01-05T12:00:00Z");
const HOUR = 3_600_000;

function cfg(automerge: Record<string, unknown> = {}): AutomergeConfig {
  const r = parseConfig({ automerge });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.config.automerge;
}

const check = (
  name: string,
  state: CheckInfo["state"] = "success",
  since: number | null = NOW - HOUR,
  raw?: string,
): CheckInfo => ({
  name,
  source: "check",
  state,
  raw: raw ?? (state === "pending" ? "in_progress" : state),
  since,
});

function details(d: Partial<PullDetails> = {}): PullDetails {
  return {
    headBranchExists: true,
    baseBranchExists: true,
    requiredChecks: null,
    requiredChecksSource: "no branch protection: every check counts",
    checks: [check("build")],
    reviews: [{ login: "bob", isBot: false, state: "APPROVED", permission: "write" }],
    unresolvedThreads: 0,
    nodeId: "PR_1",
    mergeQueue: { required: false, source: null },
    inMergeQueue: false,
    autoMergeEnabled: false,
    allowedMethods: { squash: true, merge: true, rebase: true },
    mergeProposal: null,
    ...d,
  };
}

function pr(p: Partial<PullSnapshot> = {}, d: Partial<PullDetails> | null = {}): PullSnapshot {
  return {
    repo: "octo/demo",
    number: 7,
    title: "t",
    body: "",
    url: "https://github.com/octo/demo/pull/7",
    state: "open",
    merged: false,
    draft: false,
    author: { login: "alice", isBot: false },
    labels: [],
    headSha: "a".repeat(40),
    headRef: "feature",
    headRepo: "octo/demo",
    baseRef: "main",
    mergeable: true,
    mergeableState: "clean",
    ...(d === null ? {} : { details: details(d) }),
    ...p,
  };
}

const cond = (conds: Condition[], id: Condition["id"]): Condition | undefined =>
  conds.find((c) => c.id === id);
const run = (p: PullSnapshot, c = cfg()) => evaluate(p, c, { now: NOW });

describe("evaluate: a ready PR", () => {
  it("meets every condition, in the documented order", () => {
    const ev = run(pr());
    expect(ev.ready).toBe(true);
    expect(ev.firstUnmet).toBeNull();
    expect(ev.conditions.map((c) => c.id)).toEqual([
      "enabled",
      "open",
      "author",
      "labels",
      "same_repo",
      "head_branch",
      "base_branch",
      "checks_present",
      "checks",
      "approvals",
      "changes_requested",
      "conversations",
      "mergeable",
      "up_to_date",
    ]);
    expect(ev.method).toEqual({ method: "squash", detail: "squash" });
    expect(ev.via).toBe("merge");
  });
});

describe("evaluate: each condition unmet", () => {
  it("enabled", () => {
    const ev = run(pr(), cfg({ enabled: false }));
    expect(ev.ready).toBe(false);
    expect(ev.candidate).toBe(false);
    expect(cond(ev.conditions, "enabled")).toMatchObject({ met: false });
  });

  it("open: closed, merged, draft", () => {
    expect(cond(run(pr({ state: "closed" })).conditions, "open")?.detail).toBe("closed");
    expect(cond(run(pr({ state: "closed", merged: true })).conditions, "open")?.detail).toBe(
      "already merged",
    );
    const draft = run(pr({ draft: true }));
    expect(draft.candidate).toBe(false);
    expect(cond(draft.conditions, "open")?.detail).toBe("draft: mark it ready for review");
  });

  it("author allow-list: listed logins, `bots`, everyone else", () => {
    const only = cfg({ authors: ["bots", "Renovate-Helper"] });
    expect(
      cond(
        run(pr({ author: { login: "dependabot[bot]", isBot: true } }), only).conditions,
        "author",
      ),
    ).toMatchObject({
      met: true,
      detail: "`dependabot[bot]` is a bot (`bots`)",
    });
    expect(
      cond(
        run(pr({ author: { login: "renovate-helper", isBot: false } }), only).conditions,
        "author",
      )?.met,
    ).toBe(true);
    const alice = run(pr(), only);
    expect(alice.candidate).toBe(false);
    expect(cond(alice.conditions, "author")?.detail).toBe(
      "`alice` is not on `automerge.authors` (`bots`, `Renovate-Helper`)",
    );
  });

  it("labels: blocking label, missing required label", () => {
    const blocked = run(pr({ labels: ["WIP"] }));
    expect(blocked.candidate).toBe(true); // reported, so a person sees why
    expect(cond(blocked.conditions, "labels")).toMatchObject({
      met: false,
      detail: "blocked by label `wip`",
    });
    const c = cfg({ required_label: "automerge" });
    const missing = run(pr(), c);
    expect(missing.candidate).toBe(false);
    expect(cond(missing.conditions, "labels")?.detail).toBe("needs label `automerge`");
    expect(cond(run(pr({ labels: ["automerge"] }), c).conditions, "labels")).toMatchObject({
      met: true,
      detail: "has `automerge`, no blocking label",
    });
  });

  it("same repository: a fork, a deleted fork", () => {
    const fork = run(pr({ headRepo: "mallory/demo" }));
    expect(cond(fork.conditions, "same_repo")).toMatchObject({ met: false, kind: "blocked" });
    expect(cond(fork.conditions, "head_branch")).toBeUndefined();
    expect(cond(run(pr({ headRepo: null })).conditions, "same_repo")?.detail).toContain(
      "the fork this PR came from was deleted",
    );
  });

  it("head and base branches exist", () => {
    expect(cond(run(pr({}, { headBranchExists: false })).conditions, "head_branch")).toMatchObject({
      met: false,
      kind: "blocked",
    });
    expect(cond(run(pr({}, { baseBranchExists: false })).conditions, "base_branch")).toMatchObject({
      met: false,
      kind: "blocked",
    });
  });

  it("checks present: none, none but allowed, only ignored ones", () => {
    const none = run(pr({}, { checks: [] }));
    expect(cond(none.conditions, "checks_present")).toMatchObject({ met: false });
    expect(none.ready).toBe(false);
    expect(run(pr({}, { checks: [] }), cfg({ allow_no_checks: true })).ready).toBe(true);
    const ownOnly = run(
      pr({}, { checks: [check("bg-agent/automerge"), check("codecov/patch", "failure")] }),
      cfg({ ignore_checks: ["codecov/*"] }),
    );
    expect(cond(ownOnly.conditions, "checks_present")?.detail).toBe(
      "no check or status at head (2 ignored): bg-agent does not merge untested code (`automerge.allow_no_checks` allows it)",
    );
  });

  it("checks: failing, pending, timed out, statuses", () => {
    const failing = run(
      pr({}, { checks: [check("build"), check("lint", "failure", NOW, "cancelled")] }),
    );
    expect(cond(failing.conditions, "checks")).toMatchObject({
      met: false,
      kind: "person",
      detail: "failing: `lint` (cancelled)",
    });

    const pending = run(
      pr({}, { checks: [check("build", "pending", NOW - 10 * 60_000, "queued")] }),
    );
    expect(cond(pending.conditions, "checks")).toMatchObject({
      met: false,
      kind: "wait",
      retryInMs: 5 * 60_000,
    });

    const stuck = run(
      pr({}, { checks: [check("e2e", "pending", NOW - 30 * HOUR)] }),
      cfg({ check_timeout_hours: 24 }),
    );
    expect(cond(stuck.conditions, "checks")).toMatchObject({ met: false, kind: "blocked" });
    expect(cond(stuck.conditions, "checks")?.retryInMs).toBeUndefined();
    expect(cond(stuck.conditions, "checks")?.detail).toContain("`e2e` (in_progress for 1d6h)");

    const status: CheckInfo = {
      name: "ci/jenkins",
      source: "status",
      state: "failure",
      raw: "error",
      since: NOW,
    };
    expect(
      cond(run(pr({}, { checks: [check("build"), status] })).conditions, "checks")?.detail,
    ).toBe("failing: `ci/jenkins` (error)");
  });

  it("checks: an ignored failing check does not block", () => {
    const ev = run(
      pr({}, { checks: [check("build"), check("codecov/patch", "failure")] }),
      cfg({ ignore_checks: ["codecov/*"] }),
    );
    expect(ev.ready).toBe(true);
    expect(cond(ev.conditions, "checks_present")?.detail).toBe("1 at head (1 ignored)");
  });

  it("checks: required ones only when protection is readable, and they must report", () => {
    const only = run(
      pr(
        {},
        {
          requiredChecks: ["build"],
          requiredChecksSource: "required by branch protection",
          checks: [check("build"), check("lint", "failure")],
        },
      ),
    );
    expect(only.ready).toBe(true);
    const missing = run(pr({}, { requiredChecks: ["build", "e2e"], checks: [check("build")] }));
    expect(cond(missing.conditions, "checks")).toMatchObject({
      met: false,
      kind: "wait",
      detail: "required but not reported yet: `e2e`",
    });
    const never = run(
      pr(
        {},
        { requiredChecks: ["build", "e2e"], checks: [check("build", "success", NOW - 9 * HOUR)] },
      ),
    );
    expect(cond(never.conditions, "checks")).toMatchObject({ met: false, kind: "blocked" });
    expect(cond(never.conditions, "checks")?.detail).toContain("`e2e` (never reported)");
  });

  it("checks: a status and a check run of the same name: the worse one counts", () => {
    const status: CheckInfo = {
      name: "build",
      source: "status",
      state: "success",
      raw: "success",
      since: NOW,
    };
    const ev = run(
      pr({}, { requiredChecks: ["build"], checks: [check("build", "failure"), status] }),
    );
    expect(cond(ev.conditions, "checks")).toMatchObject({
      met: false,
      detail: "failing: `build` (failure)",
    });
  });

  it("checks: a pending check with no start time and nothing to time it from is not polled", () => {
    const ev = run(pr({}, { checks: [check("build", "pending", null)] }));
    expect(cond(ev.conditions, "checks")).toMatchObject({ met: false, kind: "wait" });
    expect(cond(ev.conditions, "checks")?.retryInMs).toBeUndefined();
  });

  it("approvals: too few, bots and people without write access do not count", () => {
    const none = run(pr({}, { reviews: [] }));
    expect(cond(none.conditions, "approvals")?.detail).toBe(
      "0 of 1 required approving reviews from people with write access",
    );
    const two = cfg({ required_approvals: 2 });
    const ev = run(
      pr(
        {},
        {
          reviews: [
            { login: "bob", isBot: false, state: "APPROVED", permission: "admin" },
            { login: "helper[bot]", isBot: true, state: "APPROVED", permission: null },
            { login: "eve", isBot: false, state: "APPROVED", permission: "read" },
          ],
        },
      ),
      two,
    );
    expect(cond(ev.conditions, "approvals")?.detail).toBe(
      "1 of 2 required approving reviews from people with write access: `bob`; not counted: `helper[bot]` is a bot, `eve` has no write access (read)",
    );
    expect(run(pr({}, { reviews: [] }), cfg({ required_approvals: 0 })).ready).toBe(true);
  });

  it("changes requested", () => {
    const ev = run(
      pr(
        {},
        {
          reviews: [
            { login: "bob", isBot: false, state: "APPROVED", permission: "write" },
            { login: "carol", isBot: false, state: "CHANGES_REQUESTED", permission: null },
          ],
        },
      ),
    );
    expect(cond(ev.conditions, "changes_requested")).toMatchObject({
      met: false,
      detail: "changes requested by `carol`",
    });
  });

  it("bg:fix PRs need a person or an approved proposal, even with required_approvals 0", () => {
    const c = cfg({ required_approvals: 0 });
    const bot = { author: { login: "bg-agent[bot]", isBot: true }, labels: ["bg:fix"] };
    expect(run(pr(bot, { reviews: [] }), c).ready).toBe(false);
    expect(
      run(
        pr(bot, {
          reviews: [{ login: "helper[bot]", isBot: true, state: "APPROVED", permission: null }],
        }),
        c,
      ).ready,
    ).toBe(false);
    expect(run(pr(bot, { reviews: [], mergeProposal: "proposed" }), c).ready).toBe(false);
    expect(run(pr(bot, { reviews: [], mergeProposal: "approved" }), c).ready).toBe(true);
    expect(cond(run(pr(bot), c).conditions, "fix_approval")).toMatchObject({
      met: true,
      detail: "approved by `bob`",
    });
  });

  it("conversations", () => {
    expect(cond(run(pr({}, { unresolvedThreads: 2 })).conditions, "conversations")?.detail).toBe(
      "2 unresolved review conversations",
    );
  });

  it("mergeable: computing, conflicts", () => {
    expect(cond(run(pr({ mergeable: null })).conditions, "mergeable")).toMatchObject({
      met: false,
      kind: "wait",
      retryInMs: 60_000,
    });
    expect(
      cond(run(pr({ mergeable: false, mergeableState: "dirty" })).conditions, "mergeable")?.detail,
    ).toBe("conflicts with `main`");
  });

  it("up to date: behind, with and without update_branch", () => {
    expect(cond(run(pr({ mergeableState: "behind" })).conditions, "up_to_date")).toMatchObject({
      met: false,
      kind: "person",
    });
    expect(
      cond(
        run(pr({ mergeableState: "behind" }), cfg({ update_branch: true })).conditions,
        "up_to_date",
      ),
    ).toMatchObject({
      met: false,
      kind: "wait",
    });
  });

  it("without details (not a candidate), only the gate conditions are reported", () => {
    const ev = evaluate(pr({ draft: true }, null), cfg(), { now: NOW });
    expect(ev.conditions.map((c) => c.id)).toEqual(["enabled", "open", "author", "labels"]);
    expect(ev.ready).toBe(false);
  });
});

describe("evaluate: merge method and route", () => {
  it("falls back in the stated order: configured, squash, merge, rebase", () => {
    expect(chooseMethod("rebase", { squash: true, merge: true, rebase: false })).toEqual({
      method: "squash",
      detail: "squash (rebase is not allowed in this repository)",
    });
    expect(chooseMethod("squash", { squash: false, merge: false, rebase: true }).method).toBe(
      "rebase",
    );
    expect(
      chooseMethod("squash", { squash: false, merge: false, rebase: false }).method,
    ).toBeNull();
  });

  it("goes through the merge queue when the repository requires one", () => {
    expect(run(pr({}, { mergeQueue: { required: true, source: "x" } })).via).toBe("merge_queue");
    expect(run(pr(), cfg({ merge_queue: true })).via).toBe("auto_merge");
  });

  it("ignores bg-agent's own checks and matches ignore_checks as globs", () => {
    expect(isIgnoredCheck("bg-agent/automerge", [])).toBe(true);
    expect(isIgnoredCheck("codecov/project", ["codecov/*"])).toBe(true);
    expect(isIgnoredCheck("build", ["codecov/*"])).toBe(false);
  });
});
