import { readFileSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseConfig } from "../../src/config/load.js";
import { configSchema } from "../../src/config/schema.js";

const CONFIG_KEYS = new Set(Object.keys(configSchema.shape));
const files = ["README.md", ...readdirSync("docs").map((f) => `docs/${f}`)].filter((f) =>
  f.endsWith(".md"),
);

/** Every ```yaml block of the docs whose top-level keys are bg-agent config keys. */
const examples = files.flatMap((file) =>
  [...readFileSync(file, "utf8").matchAll(/```ya?ml\n([\s\S]*?)```/g)].flatMap((m, i) => {
    let doc: unknown;
    try {
      doc = parse(m[1]!);
    } catch {
      return [];
    }
    if (!doc || typeof doc !== "object" || Array.isArray(doc)) return [];
    const keys = Object.keys(doc).filter((k) => k !== "_extends");
    if (!keys.length || !keys.every((k) => CONFIG_KEYS.has(k) || !/^(on|jobs|name|runs)$/.test(k)))
      return [];
    if (!keys.some((k) => CONFIG_KEYS.has(k))) return [];
    return [{ where: `${file} #${i + 1}`, doc }];
  }),
);

describe("every bg-agent.yml example in the docs validates under the strict schema", () => {
  it("finds the examples", () => {
    expect(examples.length).toBeGreaterThan(3);
  });
  it.each(examples)("$where", ({ doc }) => {
    const r = parseConfig(doc);
    expect(r.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([]);
    expect(r.ok).toBe(true);
  });
});
