import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { memoryStore } from "../helpers/store.js";
import { answerAll, fakeGitHub, fakeOpenAI, unmatched, workspace } from "./fakes.js";
import { REPO, baseConfig, enqueue, env, issues, pass } from "./setup.js";

/**
 * Activity and pauses are checked before every analysis batch, not once per pass: a person who
 * becomes active (a webhook records it in the store) or a manual pause that arrives while the
 * first batch is in flight stops the batches that have not been sent.
 */

let nomatch: ReturnType<typeof unmatched>;
beforeEach(() => {
  nomatch = unmatched();
});
afterEach(() => nomatch.stop());

const config = baseConfig({
  activity: { pause_when_active_minutes: 5 },
  tech_debt: { batch_size: 10 },
});

describe("analysis: the check before every batch", () => {
  for (const inject of ["a person comments", "an admin pauses the repository"] as const) {
    it(`${inject} while batch 1 of 2 is in flight (injected once): batch 2 is not sent; its 10 issues wait (lost 0, analysed twice 0, no attempt spent)`, async () => {
      const store = await memoryStore();
      const list = issues(20);
      fakeGitHub(REPO, list);
      const llm = fakeOpenAI(
        async (body) => {
          if (inject === "a person comments") await store.activity.recordHuman(REPO, "alice");
          else await store.activity.pause(REPO, "admin", null, "release freeze");
          return answerAll(body);
        },
        { times: 1 },
      );
      await enqueue(store, list);
      const summary = await pass(env(store, { workspace: workspace(2000), config }));

      expect(llm.calls).toHaveLength(1);
      const outcomes = summary.repos[0]!.processed;
      expect(outcomes.filter((o) => o.outcome === "done")).toHaveLength(10);
      // Batch 2 was claimed with batch 1 (so calls can share files) but never sent: its issues
      // go back unsent, and the pass stops starting LLM work in the repository.
      expect(outcomes.filter((o) => o.outcome === "retry")).toHaveLength(10);
      expect(outcomes).toHaveLength(20);
      expect(summary.repos[0]!.skipped).toContain(
        inject === "a person comments" ? "people are active (@alice" : "paused by admin",
      );
      const pending = await store.tasks.list({ repo: REPO, status: "pending" });
      expect(pending).toHaveLength(10);
      for (const t of pending) expect(t.attempts).toBe(0);
      expect(await store.analyses.list(REPO)).toHaveLength(10);
      for (const i of list.slice(10)) expect(i.comments).toEqual([]);
      expect(nomatch.list).toEqual([]);
      expect(nock.pendingMocks()).toEqual([]);
    });
  }
});
