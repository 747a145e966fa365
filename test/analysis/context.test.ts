import { encode } from "gpt-tokenizer/encoding/o200k_base";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import nock from "nock";
import { describe, expect, it } from "vitest";
import {
  assembleContext,
  projectContext,
  workspaceSource,
} from "../../src/context/project-context.js";
import { hashOf } from "../../src/util/hash.js";
import { testCtx } from "../helpers/context.js";
import { memoryStore } from "../helpers/store.js";
import { HEAD_SHA, fakeGitHub, workspace } from "./fakes.js";
import { REPO, baseConfig, enqueue, env, issues, pass } from "./setup.js";
import { sweepAnalysis } from "../../src/processors/analysis/sweep.js";
import { stateBlock } from "../../src/report/markers.js";

describe("project context", () => {
  it("is byte-stable, sorted, capped, and includes configured globs", async () => {
    const dir = workspace(200);
    writeFileSync(join(dir, "src", "a.config.json"), '{"a":1}\n');
    const a = await assembleContext(workspaceSource(REPO, dir), {
      include: ["src/*.json"],
      maxTokens: 2_000,
    });
    const b = await assembleContext(workspaceSource(REPO, dir), {
      include: ["src/*.json"],
      maxTokens: 2_000,
    });
    expect(a.text).toBe(b.text);
    expect(a.text.indexOf("## README.md")).toBeLessThan(a.text.indexOf("## File tree"));
    expect(a.text).toContain(
      "CONTRIBUTING.md\nREADME.md\nsrc/a.config.json\nsrc/index.ts\nsrc/queue.ts\n",
    );
    expect(a.text).toContain('## File src/a.config.json\n{"a":1}');
    const small = await assembleContext(workspaceSource(REPO, workspace(5000)), {
      include: [],
      maxTokens: 1_000,
    });
    // The budget is in real tokens (o200k_base by default), not characters.
    expect(encode(small.text).length).toBeLessThanOrEqual(1_000);
    expect(small.tokens).toBe(encode(small.text).length);
    expect(small.truncated).toBe(true);
    expect(small.text).toContain("truncated at");
  });

  it("reads the API tree and contents when there is no checkout, once per commit in a run", async () => {
    const scope = nock("https://api.github.com")
      .get(`/repos/${REPO}`)
      .reply(200, { default_branch: "main" })
      .get(`/repos/${REPO}/branches/main`)
      .reply(200, { commit: { sha: HEAD_SHA } })
      .get(`/repos/${REPO}/git/trees/${HEAD_SHA}`)
      .query({ recursive: "true" })
      .reply(200, {
        truncated: false,
        tree: [
          { path: "src/b.ts", type: "blob", size: 10 },
          { path: "README.md", type: "blob", size: 10 },
          { path: "node_modules/x/index.js", type: "blob", size: 10 },
          { path: "src", type: "tree" },
        ],
      })
      .get(`/repos/${REPO}/contents/README.md`)
      .query({ ref: HEAD_SHA })
      .reply(200, {
        type: "file",
        encoding: "base64",
        content: Buffer.from("# Hello from the API\n").toString("base64"),
      });
    const ctx = await testCtx(await memoryStore(), REPO, { config: baseConfig() });
    const c1 = await projectContext(ctx);
    const c2 = await projectContext(ctx);
    expect(c1).toBe(c2);
    expect(c1.source).toBe("api");
    expect(c1.commit).toBe(HEAD_SHA);
    expect(c1.text).toContain("# Hello from the API");
    expect(c1.text).toContain("README.md\nsrc/b.ts\n");
    expect(c1.text).not.toContain("node_modules");
    expect(scope.isDone()).toBe(true);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("sweep", () => {
  it("standalone (empty store): skips an issue whose bg-agent comment holds the current hash, queues changed ones", async () => {
    const store = await memoryStore();
    const [same, changed, fresh, pr] = issues(4);
    const state = (i: typeof same, hash: string) =>
      `<!-- bg-agent:analysis:${REPO}#${i!.number} -->\nold analysis\n${stateBlock({ v: 1, key: `${REPO}#${i!.number}`, hash, should_fix: true, complexity: "low", affected_files: [] })}`;
    same!.comments = [
      { id: 1, body: state(same, hashOf({ title: same!.title, body: same!.body })) },
    ];
    changed!.comments = [{ id: 2, body: state(changed, "0000000000000000") }];
    pr!.pull_request = true;
    fakeGitHub(REPO, [same!, changed!, fresh!, pr!], ["get"]);
    const ctx = await testCtx(store, REPO, { config: baseConfig() });
    const r = await sweepAnalysis(ctx);
    expect(r).toEqual({ github: 3, linear: 0, enqueued: 2, current: 1 });
    expect((await store.tasks.list({ repo: REPO })).map((t) => t.source).sort()).toEqual([
      "issue:2",
      "issue:3",
    ]);
    // Remembered: the next sweep needs no comment read for it.
    expect((await store.analyses.get(`${REPO}#1`))?.commentUrl).toContain("issuecomment-1");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a re-run after a failed report posts the stored analysis without a new LLM call", async () => {
    const store = await memoryStore();
    const list = issues(1);
    await enqueue(store, list);
    const i = list[0]!;
    await store.analyses.save({
      key: `${REPO}#1`,
      repo: REPO,
      source: "github",
      contentHash: hashOf({ title: i.title, body: i.body }),
      shouldFix: false,
      complexity: "medium",
      plan: "Leave it.",
      affectedFiles: [],
      batchId: null,
      commentUrl: null,
    });
    fakeGitHub(REPO, list);
    const summary = await pass(env(store, { workspace: workspace() }));
    expect(summary.repos[0]!.processed[0]!.outcome).toBe("done");
    expect(i.comments![0]!.body).toContain("Leave it.");
    expect(i.labels).toContain("bg:wont-fix");
    expect(nock.pendingMocks()).toEqual([]);
  });
});
