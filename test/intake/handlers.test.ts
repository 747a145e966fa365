import { beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { onActivity } from "../../src/intake/activity.js";
import { onChecks } from "../../src/intake/checks.js";
import { onInstallation } from "../../src/intake/installation.js";
import { onIssues } from "../../src/intake/issues.js";
import { onPush } from "../../src/intake/push.js";
import type { IntakeDeps } from "../../src/intake/types.js";
import { memoryLogger } from "../../src/log.js";
import type { Store } from "../../src/store/index.js";
import { notOpen } from "../../src/commands/resolve.js";
import { issueContentHash } from "../../src/util/hash.js";
import { memoryStore } from "../helpers/store.js";
import {
  REPO,
  bot,
  checkRunEvent,
  human,
  issuesEvent,
  repository,
  statusEvent,
} from "../helpers/payloads.js";

let store: Store;
let loads: number;
let refreshes: number;
const deps = (config: unknown = {}, extra: Partial<IntakeDeps> = {}): IntakeDeps => ({
  store,
  log: memoryLogger(),
  loadConfig: async (_known, opts) => {
    loads++;
    if (opts?.refresh) refreshes++;
    return parseConfig(config);
  },
  ...extra,
});
const ev = (name: string, payload: unknown, id = `d-${Math.random()}`) => ({ id, name, payload });

beforeEach(async () => {
  store = await memoryStore();
  loads = 0;
  refreshes = 0;
});

describe("activity", () => {
  it("records a person, never a bot or bg-agent itself", async () => {
    await onActivity(deps(), ev("issues", issuesEvent({ sender: bot })));
    await onActivity(
      deps({}, { selfLogin: "bg-agent[bot]" }),
      ev("issues", issuesEvent({ sender: { login: "bg-agent[bot]", type: "Bot" } })),
    );
    await onActivity(
      deps({}, { selfLogin: "bg-agent-app" }),
      ev("issues", issuesEvent({ sender: { login: "bg-agent-app", type: "User" } })),
    );
    expect((await store.activity.get(REPO)).lastHumanAt).toBeNull();
    await onActivity(deps(), ev("issues", issuesEvent({ sender: human })));
    expect(await store.activity.get(REPO)).toMatchObject({ lastHumanLogin: "alice" });
  });
});

describe("checks", () => {
  it("queues one evaluation per own PR of a completed check run; forks' PRs are left out", async () => {
    await onChecks(deps(), ev("check_run", checkRunEvent({ prs: [7, 8, 7] })));
    await onChecks(
      deps(),
      ev("check_suite", checkRunEvent({ name: "check_suite", prs: [9], baseRepoId: 999 })),
    );
    expect((await store.tasks.list()).map((t) => t.source).sort()).toEqual(["pr:7", "pr:8"]);
  });

  it("a status queues an evaluation by SHA; a pending status queues nothing and loads no config", async () => {
    await onChecks(deps(), ev("status", statusEvent({ state: "pending" })));
    expect(loads).toBe(0);
    await onChecks(deps(), ev("status", statusEvent({ state: "success" })));
    await onChecks(deps(), ev("status", statusEvent({ state: "failure" })));
    const tasks = await store.tasks.list();
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({
      source: `sha:${"c".repeat(40)}`,
      payload: { headSha: "c".repeat(40) },
    });
  });

  it("a status or check whose SHA is not a commit SHA queues nothing (found by the webhook fuzz)", async () => {
    await onChecks(deps(), ev("status", statusEvent({ sha: "v0]", state: "success" })));
    await onChecks(deps(), ev("status", statusEvent({ sha: "../../x", state: "failure" })));
    await onChecks(deps(), ev("check_run", checkRunEvent({ sha: "not-a-sha" })));
    expect(await store.tasks.list()).toEqual([]);
  });

  it("queues nothing when automerge is disabled or the config is invalid", async () => {
    await onChecks(deps({ automerge: { enabled: false } }), ev("check_run", checkRunEvent()));
    await onChecks(deps({ automerge: { method: "yolo" } }), ev("check_run", checkRunEvent()));
    expect(await store.tasks.list()).toEqual([]);
  });
});

describe("issues", () => {
  it("matches the configured labels case-insensitively", async () => {
    await onIssues(
      deps({ tech_debt: { github: { labels: ["Debt"] } } }),
      ev("issues", issuesEvent({ labels: ["debt"] })),
    );
    expect(await store.tasks.list()).toHaveLength(1);
  });

  it("ignores issues without the label, and everything when tech_debt is disabled", async () => {
    await onIssues(deps(), ev("issues", issuesEvent({ labels: ["bug"] })));
    await onIssues(deps({ tech_debt: { enabled: false } }), ev("issues", issuesEvent()));
    expect(await store.tasks.list()).toEqual([]);
  });

  it("cancels the pending analysis when the label goes or the issue closes", async () => {
    await onIssues(deps(), ev("issues", issuesEvent({ number: 1 })));
    await onIssues(deps(), ev("issues", issuesEvent({ number: 2 })));
    await onIssues(
      deps(),
      ev("issues", issuesEvent({ number: 1, action: "unlabeled", labels: [] })),
    );
    await onIssues(
      deps(),
      ev("issues", issuesEvent({ number: 2, action: "closed", state: "closed" })),
    );
    expect((await store.tasks.list()).map((t) => t.status)).toEqual(["cancelled", "cancelled"]);
  });

  it("an edit of the text expires the open fix plan made for the old text; a label change does not", async () => {
    const original = issuesEvent({ number: 3 });
    const p = await store.proposals.propose({
      repo: REPO,
      kind: "fix",
      target: "issue:3",
      contentHash: issueContentHash(original.issue.title, original.issue.body),
      payload: { key: `${REPO}#3`, plan: "Drop the cache." },
    });
    await store.analyses.save({
      key: `${REPO}#3`,
      repo: REPO,
      source: "github",
      contentHash: p.contentHash,
      shouldFix: true,
      complexity: "low",
      plan: "Drop the cache.",
      affectedFiles: [],
      batchId: null,
      commentUrl: "https://github.com/octo/demo/issues/3#issuecomment-1",
    });
    await onIssues(deps(), ev("issues", { ...original, action: "labeled" }));
    expect((await store.proposals.get(p.id))?.status).toBe("proposed");
    await onIssues(
      deps(),
      ev(
        "issues",
        issuesEvent({ number: 3, action: "edited", body: "It is used by the CLI after all." }),
      ),
    );
    const after = (await store.proposals.get(p.id))!;
    expect(after.status).toBe("expired");
    // What `/bg approve` answers now:
    expect(notOpen(after)).toMatch(/has expired: the issue changed since/);
    expect((await store.tasks.list()).map((t) => [t.type, t.status])).toEqual([
      ["tech_debt_analysis", "pending"],
    ]);
  });

  it("treats a null body as empty", async () => {
    await onIssues(deps(), ev("issues", issuesEvent({ body: null })));
    expect((await store.tasks.list())[0]!.payload.body).toBe("");
  });
});

describe("installation", () => {
  it("knows added repositories and forgets removed ones, cancelling their pending tasks", async () => {
    await onInstallation(
      deps(),
      ev("installation", {
        action: "created",
        installation: { id: 5 },
        repositories: [
          { id: 1, full_name: "o/a" },
          { id: 2, full_name: "o/b" },
        ],
      }),
    );
    expect((await store.repos.list({ installedOnly: true })).map((r) => r.fullName)).toEqual([
      "o/a",
      "o/b",
    ]);
    await store.tasks.enqueue({ repo: "o/a", type: "automerge", source: "pr:1" });
    await onInstallation(
      deps(),
      ev("installation_repositories", {
        action: "removed",
        installation: { id: 5 },
        repositories_removed: [{ id: 1, full_name: "o/a" }],
      }),
    );
    expect((await store.repos.list({ installedOnly: true })).map((r) => r.fullName)).toEqual([
      "o/b",
    ]);
    expect((await store.tasks.list())[0]!.status).toBe("cancelled");
    await onInstallation(
      deps(),
      ev("installation_repositories", {
        action: "added",
        installation: { id: 5 },
        repositories_added: [{ id: 1, full_name: "o/a" }],
      }),
    );
    expect((await store.repos.get("o/a"))?.installed).toBe(true);
  });

  it("an uninstall forgets every repository of the installation", async () => {
    await onInstallation(
      deps(),
      ev("installation", {
        action: "created",
        installation: { id: 5 },
        repositories: [{ full_name: "o/a" }, { full_name: "o/b" }],
      }),
    );
    await store.tasks.enqueue({ repo: "o/b", type: "tech_debt_analysis", source: "issue:1" });
    await onInstallation(
      deps(),
      ev("installation", { action: "deleted", installation: { id: 5 } }),
    );
    expect(await store.repos.list({ installedOnly: true })).toEqual([]);
    expect(await store.tasks.list({ status: "pending" })).toEqual([]);
  });
});

describe("push", () => {
  const push = (o: { ref?: string; files?: string[]; repo?: string; commits?: number } = {}) => ({
    ref: o.ref ?? "refs/heads/main",
    after: "e".repeat(40),
    commits: Array.from({ length: o.commits ?? 1 }, () => ({
      added: [],
      removed: [],
      modified: o.files ?? [".github/bg-agent.yml"],
    })),
    repository: repository(o.repo ?? REPO),
    installation: { id: 1 },
    sender: human,
  });
  const cache = async (repo: string) =>
    await store.repos.setConfig(repo, { json: "{}", hash: "h", valid: true, errors: [] });

  it("re-reads the config (bypassing the cache) only for the default branch and the config file", async () => {
    await cache(REPO);
    await onPush(deps(), ev("push", push({ ref: "refs/heads/feature" })));
    await onPush(deps(), ev("push", push({ files: ["README.md"] })));
    expect((await store.repos.get(REPO))?.configLoadedAt).not.toBeNull();
    expect(loads).toBe(0);
    await onPush(deps(), ev("push", push()));
    expect(refreshes).toBe(1);
  });

  it("a push of more commits than GitHub lists re-reads to be safe", async () => {
    await cache(REPO);
    await onPush(deps(), ev("push", push({ files: ["README.md"], commits: 20 })));
    expect(refreshes).toBe(1);
  });

  it("a change in the owner's .github repository (where _extends bases live) invalidates every repository of the owner", async () => {
    await cache("octo/a");
    await cache("octo/b");
    await cache("other/c");
    await onPush(deps(), ev("push", push({ repo: "octo/.github" })));
    expect((await store.repos.get("octo/a"))?.configLoadedAt).toBeNull();
    expect((await store.repos.get("octo/b"))?.configLoadedAt).toBeNull();
    expect((await store.repos.get("other/c"))?.configLoadedAt).not.toBeNull();
  });
});
