import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { claimSize, planBatches } from "../../src/processors/analysis/batches.js";

const config = (tech_debt: Record<string, unknown> = {}) => {
  const r = parseConfig({ tech_debt: { batch_size: 4, ...tech_debt } });
  if (!r.ok) throw new Error("config");
  return r.config;
};

interface It {
  key: string;
  tokens: number;
  namedFiles?: { path: string }[];
}
const item = (key: string, ...files: string[]): It => ({
  key,
  tokens: 200,
  ...(files.length ? { namedFiles: files.map((path) => ({ path })) } : {}),
});
const keys = (batches: It[][]) => batches.map((b) => b.map((i) => i.key));

describe("planning analysis calls", () => {
  it("issues naming the same file go into the same call, in as few calls as the count allows", () => {
    const items = [
      item("1", "src/a.ts"),
      item("2"),
      item("3", "src/b.ts"),
      item("4"),
      item("5", "src/a.ts"),
      item("6", "src/b.ts", "src/c.ts"),
      item("7", "src/c.ts"),
      item("8"),
    ];
    const batches = planBatches(items, config(), 1_000);
    expect(batches).toHaveLength(2);
    const callOf = (k: string) => batches.findIndex((b) => b.some((i) => i.key === k));
    // 3, 6 and 7 are one group (b.ts, then c.ts); 1 and 5 share a.ts.
    expect(callOf("3")).toBe(callOf("6"));
    expect(callOf("6")).toBe(callOf("7"));
    expect(callOf("1")).toBe(callOf("5"));
    // Each call lists its issues in their original order.
    for (const b of keys(batches)) expect([...b].sort((x, y) => +x - +y)).toEqual(b);
  });

  it("issues naming no file keep their order and fill calls as before", () => {
    const items = Array.from({ length: 9 }, (_, i) => item(String(i + 1)));
    expect(keys(planBatches(items, config(), 1_000))).toEqual([
      ["1", "2", "3", "4"],
      ["5", "6", "7", "8"],
      ["9"],
    ]);
  });

  it("a group larger than a call is cut in order; the token limit still holds", () => {
    const items = Array.from({ length: 6 }, (_, i) => item(String(i + 1), "src/big.ts"));
    expect(keys(planBatches(items, config(), 1_000))).toEqual([
      ["1", "2", "3", "4"],
      ["5", "6"],
    ]);
    const tight = config({ max_tokens_per_call: 4_000, context: { max_tokens: 1_000 } });
    const heavy = items.map((i) => ({ ...i, tokens: 900 }));
    for (const b of planBatches(heavy, tight, 200)) expect(b.length).toBeLessThan(4);
  });

  it("the worker claims several calls' worth at once, at most 100", () => {
    expect(claimSize(config())).toBe(40);
    expect(claimSize(config({ batch_size: 25 }))).toBe(100);
  });
});
