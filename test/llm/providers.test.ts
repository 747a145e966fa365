import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { chatBody, structuredModeOf } from "../../src/llm/client.js";
import { PROVIDERS, PROVIDER_TABLE, providerSpec } from "../../src/llm/providers.js";
import { resolveLlmSettings } from "../../src/llm/settings.js";
import { LlmUnavailableError } from "../../src/llm/types.js";
import { readUsage } from "../../src/llm/usage.js";

const root = join(import.meta.dirname, "../..");
const read = (p: string) => readFileSync(join(root, p), "utf8");
const tsFiles = (dir: string): string[] =>
  readdirSync(join(root, dir)).flatMap((n) => {
    const p = `${dir}/${n}`;
    return statSync(join(root, p)).isDirectory() ? tsFiles(p) : p.endsWith(".ts") ? [p] : [];
  });
/** The backticked names a line lists, in order. */
const named = (line: string | undefined) =>
  [...(line ?? "").matchAll(/`([a-z-]+)`/g)].map((m) => m[1]).filter((n) => n !== "llm-provider");

describe("the provider table", () => {
  it("is the only place that tells providers apart: no provider name is compared in src/", () => {
    const hits = tsFiles("src").flatMap((f) =>
      read(f)
        .split("\n")
        .map((l, i) => ({ f, i: i + 1, l }))
        .filter(({ l }) => /provider\s*[!=]==|[!=]==\s*"(openai|deepseek|gemini)/.test(l))
        .map(({ f, i, l }) => `${f}:${i}: ${l.trim()}`),
    );
    expect(hits).toEqual([]);
  });

  it("every provider resolves from its name alone (a preset) or says which setting is missing", () => {
    for (const p of PROVIDERS) {
      const s = resolveLlmSettings({ provider: p, apiKey: "sk-x" });
      const preset = providerSpec(p).preset;
      if (preset) {
        expect(s).toMatchObject({ provider: p, baseUrl: preset.baseUrl, model: preset.model });
        continue;
      }
      expect(s).toBeInstanceOf(LlmUnavailableError);
      expect((s as Error).message).toContain("BG_LLM_BASE_URL");
      expect(
        resolveLlmSettings({ provider: p, apiKey: "sk-x", baseUrl: "http://x", model: "m" }),
      ).toMatchObject({ provider: p, baseUrl: "http://x", model: "m" });
    }
  });

  it("an unknown provider is refused with the table's names, in the table's order", () => {
    const s = resolveLlmSettings({ provider: "anthropic", apiKey: "sk-x" });
    expect(s).toBeInstanceOf(LlmUnavailableError);
    expect((s as Error).message).toContain(`use one of ${Object.keys(PROVIDER_TABLE).join(", ")}`);
  });

  it("requests and usage follow each entry (JSON mode, max-tokens field, cached tokens)", () => {
    const req = { messages: [{ role: "user" as const, content: "hi" }], purpose: "t" };
    const price = { input: 1, cachedInput: 0, output: 0 };
    for (const p of PROVIDERS) {
      const spec = providerSpec(p);
      const mode = structuredModeOf({ provider: p });
      expect(mode).toBe(spec.structuredOutput);
      const body = chatBody({ ...req, maxOutputTokens: 7 }, { provider: p, model: "m", mode });
      expect(body).toMatchObject({ [spec.maxTokensParam]: 7 });
      expect(Object.keys(body).filter((k) => /max_.*tokens/.test(k))).toEqual([
        spec.maxTokensParam,
      ]);
      const raw =
        spec.cachedTokensField === "prompt_cache_hit_tokens"
          ? { prompt_cache_hit_tokens: 60, prompt_cache_miss_tokens: 40 }
          : { prompt_tokens: 100, prompt_tokens_details: { cached_tokens: 60 } };
      expect(readUsage(p, raw, price)).toMatchObject({ promptTokens: 100, cachedTokens: 60 });
    }
  });

  it("the Action's input and the docs list exactly the table's providers", () => {
    const action = read("action/action.yml");
    const desc = /llm-provider:\n\s+description: "([^"]+)"/.exec(action)?.[1] ?? "";
    expect([...desc.matchAll(/[a-z]+(?:-[a-z]+)?/g)].map((m) => m[0])).toEqual(
      expect.arrayContaining([...PROVIDERS]),
    );
    const row = (doc: string, key: string) =>
      read(doc)
        .split("\n")
        .find((l) => l.includes(key));
    expect(named(row("docs/analysis.md", "| `BG_LLM_PROVIDER`"))).toEqual([...PROVIDERS]);
    expect(named(row("docs/action.md", "| `llm-provider`")).slice(-PROVIDERS.length)).toEqual([
      ...PROVIDERS,
    ]);
  });
});
