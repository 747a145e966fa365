import fc from "fast-check";
import nock from "nock";
import { describe, expect, it } from "vitest";
import {
  COMPLEXITIES,
  analysisItemSchema,
  parseAnswer,
} from "../../src/processors/analysis/schema.js";
import type { ChatResult } from "../../src/llm/types.js";
import { fakeLlm } from "../helpers/fake-llm.js";
import { memoryStore } from "../helpers/store.js";
import { fakeGitHub, workspace } from "../analysis/fakes.js";
import { REPO, enqueue, env, issues, pass } from "../analysis/setup.js";

/**
 * Fuzz: the model's answer is outside input (a prompt-injected issue can steer it). Injects random
 * text, random JSON, wrong shapes and huge strings into the analysis response parser and into the
 * real analysis processor. The parser never throws and accepts only schema-valid items; the
 * processor posts, labels and stores an analysis exactly when it accepted one (lost 0: an
 * accepted answer is posted; done twice 0: at most one comment per issue), and an invalid answer
 * changes nothing on GitHub.
 */

const KEYS = [`${REPO}#1`, `${REPO}#2`];
const key = fc.oneof(fc.constantFrom(...KEYS, `${REPO}#99`, "", "octo/other#1"), fc.string());
const validItem = (k: fc.Arbitrary<string>) =>
  fc.record({
    issue: k,
    should_fix: fc.boolean(),
    complexity: fc.constantFrom(...COMPLEXITIES),
    plan: fc.string({ minLength: 1, maxLength: 200 }),
    affected_files: fc.array(fc.string({ maxLength: 40 }), { maxLength: 5 }),
  });
const wrongItem = fc.record(
  {
    issue: fc.oneof(key, fc.jsonValue()),
    should_fix: fc.jsonValue(),
    complexity: fc.oneof(fc.constantFrom(...COMPLEXITIES, "huge", ""), fc.jsonValue()),
    plan: fc.oneof(fc.string(), fc.constant(""), fc.jsonValue(), fc.constant("p".repeat(9000))),
    affected_files: fc.oneof(fc.array(fc.jsonValue(), { maxLength: 3 }), fc.jsonValue()),
  },
  { requiredKeys: [] },
);
const answerText = fc.oneof(
  fc.string({ maxLength: 500 }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc
    .array(
      fc.oneof(validItem(fc.constantFrom(...KEYS)), validItem(key), wrongItem, fc.jsonValue()),
      {
        maxLength: 5,
      },
    )
    .map((items) => JSON.stringify({ analyses: items })),
  fc.array(validItem(fc.constantFrom(...KEYS)), { minLength: 1, maxLength: 2 }).chain(
    (items) => fc.nat().map((cut) => JSON.stringify({ analyses: items }).slice(0, cut % 200)), // truncated
  ),
  fc.constant("```json\n" + JSON.stringify({ analyses: [] }) + "\n```"),
);

describe("fuzz: the analysis response parser", () => {
  it("injects 1,000 random texts, JSON and wrong shapes: never throws; accepts only schema-valid items", () => {
    fc.assert(
      fc.property(fc.oneof(answerText, fc.constant(null), fc.constant(undefined)), (text) => {
        const r = parseAnswer(text);
        for (const [k, a] of r.items) {
          expect(analysisItemSchema.safeParse(a).success).toBe(true);
          expect(a.issue).toBe(k);
        }
        if (r.error) expect(r.items.size).toBe(0);
      }),
      { numRuns: 1000 },
    );
  });

  it("injects huge answers (a 2 MB plan, 10,000 items, 100,000 nested arrays): rejected or accepted cleanly", () => {
    const big = (plan: string) =>
      JSON.stringify({
        analyses: [
          { issue: KEYS[0], should_fix: true, complexity: "low", plan, affected_files: [] },
        ],
      });
    expect(parseAnswer(big("x".repeat(2_000_000))).items.size).toBe(0); // over 8,000 chars
    expect(parseAnswer(big("x".repeat(8_000))).items.size).toBe(1);
    const many = JSON.stringify({
      analyses: Array.from({ length: 10_000 }, (_, i) => ({
        issue: `${REPO}#${i}`,
        should_fix: false,
        complexity: "high",
        plan: "p",
        affected_files: [],
      })),
    });
    expect(parseAnswer(many).items.size).toBe(10_000);
    const deep = `{"analyses": ${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
    const r = parseAnswer(deep);
    expect(r.items.size).toBe(0);
  });
});

type Reply = string | null;

describe("fuzz: answers through the real analysis processor", () => {
  it("injects 60 runs of 1-3 random answers for 2 issues: an issue is posted, labelled and stored exactly when an accepted item named it; nothing else is written", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            { weight: 5, arbitrary: answerText },
            { weight: 1, arbitrary: fc.constant(null) },
          ),
          {
            minLength: 3,
            maxLength: 3,
          },
        ),
        async (answers: Reply[]) => {
          nock.cleanAll();
          const store = await memoryStore();
          const list = issues(2);
          const gh = fakeGitHub(REPO, list, ["get", "post", "patch", "delete"]);
          const replies = answers.map((a) => (): ChatResult["message"] => ({
            role: "assistant",
            content: a,
            refusal: null,
          }));
          const llm = fakeLlm([...replies]);
          await enqueue(store, list);
          await pass(env(store, { workspace: workspace(200), llm }));
          expect(llm.calls.length).toBeLessThanOrEqual(3);
          const accepted = new Map<string, unknown[]>();
          for (const a of answers.slice(0, llm.calls.length))
            for (const [k, item] of parseAnswer(a).items)
              accepted.set(k, [...(accepted.get(k) ?? []), item]);
          for (const i of list) {
            const k = `${REPO}#${i.number}`;
            const t = (await store.tasks.list({ repo: REPO })).find(
              (x) => x.source === `issue:${i.number}`,
            )!;
            const comments = (i.comments ?? []).filter((c) =>
              c.body.includes(`<!-- bg-agent:analysis:${k} -->`),
            );
            const stored = await store.analyses.get(k);
            if (t.status === "done") {
              expect(comments).toHaveLength(1);
              expect(stored).toBeDefined();
              expect(i.labels.some((l) => l === "bg:should-fix" || l === "bg:wont-fix")).toBe(true);
              expect(accepted.get(k)?.length ?? 0).toBeGreaterThan(0);
            } else {
              expect(comments).toEqual([]);
              expect(stored).toBeUndefined();
              expect(i.labels).toEqual(["tech-debt"]);
              expect(t.lastError ?? "").not.toBe("");
            }
          }
          // Writes on GitHub: only for done issues, plus the run's check run.
          const doneNumbers = (await store.tasks.list({ repo: REPO, status: "done" })).map((t) =>
            t.source.replace("issue:", ""),
          );
          for (const w of gh.writes()) {
            const m = /\/issues\/(\d+)\//.exec(w.path);
            if (m) expect(doneNumbers).toContain(m[1]);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
