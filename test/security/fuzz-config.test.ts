import fc from "fast-check";
import nock from "nock";
import { describe, expect, it } from "vitest";
import { fetchConfig } from "../../src/config/fetch.js";
import { parseConfig } from "../../src/config/load.js";
import type { ConfigResult } from "../../src/config/load.js";
import { testOctokit } from "../helpers/context.js";

/**
 * Fuzz: `.github/bg-agent.yml` as anyone with push access (or a PR author, for a fork's branch
 * later merged) could write it. Injects random text, random YAML, mutated real configs, huge
 * files, deep nesting and alias ("billion laughs") bombs through the real loader (the contents
 * API read by @probot/octokit-plugin-config, YAML parsing, schema validation). The loader never
 * throws, a rejected file always says why (problems, by path), and every case returns (the
 * guard below fails a case that hangs). Lost 0: a valid config is never reported broken; done
 * twice 0: the same text always gives the same hash (one check run per content).
 */

const EXAMPLE = `tech_debt:
  enabled: true
  github: { labels: [tech-debt] }
  linear: { team: ENG, states: [Backlog], labels: [tech-debt] }
  batch_size: 10
automerge:
  enabled: true
  method: squash
  required_approvals: 1
  blocking_labels: [do-not-merge, wip]
tasks:
  - name: debt-digest
    prompt: "Summarise the open tech-debt issues in one paragraph."
    every: 1d
    notify: on_change
    report_to: 9
budget: { daily_usd: 1.0, monthly_usd: 20.0 }
rate_limit: { rpm: 10, tpm: 100000 }
activity: { pause_when_active_minutes: 5 }
`;

/** A case that does not return within this is a hang, not a slow machine. */
const HANG_MS = 10_000;

async function load(text: string): Promise<ConfigResult> {
  nock("https://api.github.com")
    .get(/\/repos\/octo\/demo\/contents\//)
    .reply(200, text, { "content-type": "text/plain; charset=utf-8" });
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hung on ${text.length} chars`)), HANG_MS);
  });
  try {
    return await Promise.race([fetchConfig(testOctokit(), { owner: "octo", repo: "demo" }), hang]);
  } finally {
    clearTimeout(timer);
    nock.cleanAll();
  }
}

function checkResult(r: ConfigResult): void {
  expect(typeof r.ok).toBe("boolean");
  expect(typeof r.hash).toBe("string");
  expect(Array.isArray(r.problems)).toBe(true);
  if (!r.ok) {
    expect(r.problems.length).toBeGreaterThan(0);
    for (const p of r.problems) {
      expect(typeof p.path).toBe("string");
      expect(p.message.length).toBeGreaterThan(0);
    }
  }
}

/** Character-level edits of a text: insert, delete or replace at random positions. */
const mutatedText = (base: string) =>
  fc
    .array(
      fc.record({
        at: fc.nat(),
        del: fc.nat({ max: 20 }),
        ins: fc.oneof(
          fc.string({ maxLength: 20 }),
          fc.constantFrom(
            ":",
            "- ",
            "&a ",
            "*a",
            "!!binary ",
            "{",
            "[",
            "\n  ",
            "\t",
            "'",
            '"',
            "<<: *a",
          ),
        ),
      }),
      { minLength: 1, maxLength: 6 },
    )
    .map((edits) => {
      let s = base;
      for (const e of edits) {
        const at = e.at % (s.length + 1);
        s = s.slice(0, at) + e.ins + s.slice(at + e.del);
      }
      return s;
    });

/** `levels` of anchors, each a list of `width` aliases of the previous one (width^levels nodes). */
const aliasBomb = (levels: number, width: number) => {
  const lines = ["a0: &a0 [lol]"];
  for (let i = 1; i <= levels; i++)
    lines.push(`a${i}: &a${i} [${Array.from({ length: width }, () => `*a${i - 1}`).join(", ")}]`);
  lines.push(`tech_debt: { github: { labels: *a${levels} } }`);
  return lines.join("\n");
};

describe("fuzz: the config loader", () => {
  it("the example config from the docs loads (the control)", async () => {
    const r = await load(EXAMPLE);
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.problems).toEqual([]);
  });

  it("injects 300 random texts: never throws, a rejection says why", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 2000 }), async (text) =>
        checkResult(await load(text)),
      ),
      { numRuns: 300 },
    );
  });

  it("injects 300 mutated copies of the real config: never throws, a rejection says why, same text same hash", async () => {
    await fc.assert(
      fc.asyncProperty(mutatedText(EXAMPLE), async (text) => {
        const a = await load(text);
        checkResult(a);
        const b = await load(text);
        expect(b.hash).toBe(a.hash);
        expect(b.ok).toBe(a.ok);
      }),
      { numRuns: 300 },
    );
  });

  it("injects 300 random values at the real keys (parsed YAML of any shape): parseConfig never throws", () => {
    const keys = fc.constantFrom(
      "tech_debt",
      "automerge",
      "tasks",
      "budget",
      "rate_limit",
      "activity",
      "commands",
      "worker",
      "schedule",
      "llm",
      "fix",
      "_extends",
      "__proto__",
      "constructor",
    );
    fc.assert(
      fc.property(fc.dictionary(keys, fc.jsonValue({ maxDepth: 4 }), { maxKeys: 6 }), (raw) =>
        checkResult(parseConfig(raw)),
      ),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (raw) => checkResult(parseConfig(raw))),
      { numRuns: 300 },
    );
  });

  it("injects alias bombs, deep nesting, huge strings and many keys: each rejected or loaded, with reasons, and returns", async () => {
    const cases: [string, string][] = [
      ["alias bomb 9 x 9 (387M nodes)", aliasBomb(9, 9)],
      ["alias bomb 20 x 2", aliasBomb(20, 2)],
      [
        "merge-key bomb",
        `a: &a {x: 1}\n${Array.from({ length: 200 }, (_, i) => `b${i}: &b${i} {<<: *a}`).join("\n")}`,
      ],
      ["10,000 nested lists", `tech_debt: ${"[".repeat(10_000)}${"]".repeat(10_000)}`],
      [
        "10,000 nested maps",
        `${Array.from({ length: 2000 }, (_, i) => `${" ".repeat(i)}k${i}:`).join("\n")} 1`,
      ],
      ["a 5 MB string", `tech_debt: { github: { labels: ["${"x".repeat(5_000_000)}"] } }`],
      // 5,000, not 50,000: the yaml package's duplicate-key check is quadratic (50,000 keys, 600 KB,
      // parse for ~50 s); the size cap on the file (config work, item 9) is what bounds it.
      ["5,000 keys", Array.from({ length: 5_000 }, (_, i) => `k${i}: ${i}`).join("\n")],
      ["10,000 tasks", `tasks:\n${"  - { name: t, prompt: p, every: 1d }\n".repeat(10_000)}`],
      ["binary tag", "tech_debt: !!binary aGVsbG8="],
      ["unknown tag", "automerge: !!js/function 'function(){}'"],
      ["a YAML list at the root", "- a\n- b"],
      ["a scalar at the root", "hello"],
      ["NUL bytes", "tech_debt:\u0000\u0000 {}"],
      ["BOM and CRLF", "\ufefftech_debt:\r\n  enabled: true\r\n"],
    ];
    for (const [name, text] of cases) {
      const r = await load(text);
      checkResult(r);
      if (name.startsWith("alias bomb")) expect(r.ok, name).toBe(false);
    }
  });
});
