/**
 * bench/cost: what batched, cache-friendly analysis saves, on a real repository.
 *
 * The repository: zod's sources (node_modules/zod/src, the package bench/context.ts maps) and its
 * README, copied into a temporary directory. The shared prefix is built by the app's own path
 * (projectContext: README, repository map, file tree) with the default tech_debt.context
 * settings, so the bench measures what users get. 200 synthetic tech-debt issues, a third of
 * which name a zod file or symbol (their files are then read through the map, as in the app).
 *
 * The LLM is a local OpenAI-compatible server on 127.0.0.1 that counts the tokens really sent
 * (gpt-tokenizer, o200k) and applies OpenAI's prompt-caching rule: a prefix of >= 1,024 tokens
 * identical to an earlier request's is cached, in 128-token steps. It answers with a canned,
 * valid analysis for each issue asked, and implements the Batch API endpoints (files upload,
 * batches create/retrieve, file content) with the same counting and caching.
 *
 *   (a) one call per issue, no cache-friendly layout (issue and its files first, context after)
 *   (b) one call per issue, cached prefix (instructions + context first, the issue last)
 *   (c) bg-agent: the real processor and LLM client, batches of tech_debt.batch_size
 *   (d) bg-agent with tech_debt.openai_batch: the real submit / poll / collect flow
 *
 * Run: npm run bench:cost   Writes bench/results/cost.json.
 */
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { encode, encodeChat } from "gpt-tokenizer";
import OpenAI from "openai";
import { z } from "zod";
import { defaultConfig, parseConfig } from "../src/config/load.js";
import { projectContext } from "../src/context/project-context.js";
import type { ProjectContext } from "../src/context/project-context.js";
import { createRunState } from "../src/core/run-state.js";
import type { ProcessorContext, WorkerEnv } from "../src/core/worker-contract.js";
import { createTokenClient } from "../src/integrations/github.js";
import { BATCH_DISCOUNT, PRICES, batchCostOf, costOf } from "../src/llm/pricing.js";
import type { Price } from "../src/llm/pricing.js";
import { resetLimiters } from "../src/llm/rate-limit.js";
import { clearTokenCounts, tokenCounterFor } from "../src/llm/tokens.js";
import { silentLogger } from "../src/log.js";
import { createProcessors } from "../src/processors/index.js";
import { batchFiles, resolveIssueFiles } from "../src/processors/analysis/issue-files.js";
import type { Item } from "../src/processors/analysis/item.js";
import { toItem } from "../src/processors/analysis/item.js";
import { issueBlock, prefixMessages } from "../src/processors/analysis/prompt.js";
import { ANALYSIS_JSON_SCHEMA } from "../src/processors/analysis/schema.js";
import { createStore } from "../src/store/index.js";
import { openSqlite } from "../src/store/db.js";
import { hashOf } from "../src/util/hash.js";
import { runPass } from "../src/worker/pass.js";

const N = 200;
const REPO = "bench/zod";
const MODEL = "gpt-4o-mini";
const here = dirname(fileURLToPath(import.meta.url));
/**
 * The default tech_debt.context (what users get), or with BENCH_COST_INCLUDE=<glob,…> those
 * globs added to the context (results then go to bench/results/cost-include.json).
 */
const INCLUDE = (process.env.BENCH_COST_INCLUDE ?? "").split(",").filter(Boolean);
const CONTEXT = INCLUDE.length ? { context: { include: INCLUDE } } : {};

// ---------- the repository: zod's sources and README ----------
function makeZodWorkspace(): string {
  const dir = mkdtempSync(join(tmpdir(), "bg-bench-zod-"));
  const zod = join(here, "..", "node_modules", "zod");
  cpSync(join(zod, "src"), join(dir, "src"), { recursive: true });
  cpSync(join(zod, "README.md"), join(dir, "README.md"));
  return dir;
}

// ---------- deterministic synthetic issues about zod ----------
let seed = 42;
const rnd = (): number => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};
const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
const WORDS = (
  "schema parse refine transform coerce union discriminator intersection error issue message " +
  "locale regex email uuid datetime json registry metadata default optional nullable brand pipe " +
  "lazy recursive inference generic overload check object array tuple record enum literal " +
  "promise function duplicate legacy deprecated flaky test coverage performance allocation " +
  "cache bundle size tree-shaking export type declaration"
).split(" ");
const sentence = (n: number): string => {
  const w = Array.from({ length: n }, () => pick(WORDS));
  return `${w[0]![0]!.toUpperCase()}${w.join(" ").slice(1)}.`;
};
const paragraph = (s: number): string =>
  Array.from({ length: s }, () => sentence(8 + Math.floor(rnd() * 10))).join(" ");

/** What a third of the issues name, the way people write them: a path or a function name. */
const MENTIONS = [
  "`src/v4/core/regexes.ts`",
  "`src/v4/core/doc.ts`",
  "`src/v4/core/registries.ts`",
  "`src/v4/classic/errors.ts`",
  "`src/v4/classic/parse.ts`",
  "`src/v4/classic/coerce.ts`",
  "`src/v4/classic/iso.ts`",
  "`src/v4/core/json-schema.ts`",
  "`src/v3/helpers/parseUtil.ts`",
  "`src/v3/ZodError.ts`",
  "`src/v4/core/standard-schema.ts`",
  "`src/v4/core/parse.ts`",
  "`src/v4/core/errors.ts`",
  "`src/v4/core/checks.ts`",
  "`addIssueToContext()`",
  "`quotelessJson`",
  "`mergeObjectAsync`",
  "`errToObj`",
];
const AFFECTED = [
  "src/v4/core/schemas.ts",
  "src/v4/core/checks.ts",
  "src/v4/core/util.ts",
  "src/v4/classic/schemas.ts",
  "src/v4/core/errors.ts",
  "src/v3/types.ts",
];

interface Issue {
  number: number;
  key: string;
  title: string;
  body: string;
}
/** The issues, and the same issues without the paragraph that names a file (the control). */
const [ISSUES, PLAIN] = ((): [Issue[], Issue[]] => {
  const named: Issue[] = [];
  const plain: Issue[] = [];
  for (let i = 0; i < N; i++) {
    const paras = Array.from({ length: 2 + Math.floor(rnd() * 3) }, () => paragraph(3));
    const title = `${sentence(5).slice(0, -1)} (#${i + 1})`;
    const base = { number: i + 1, key: `${REPO}#${i + 1}`, title };
    plain.push({ ...base, body: paras.join("\n\n") });
    if (i % 3 === 1) paras.splice(1, 0, `See ${pick(MENTIONS)}: ${sentence(10).toLowerCase()}`);
    named.push({ ...base, body: paras.join("\n\n") });
  }
  return [named, plain];
})();

/** The canned analysis of an issue: the same in every mode. */
const canned = (key: string) => {
  const n = Number(/#(\d+)$/.exec(key)?.[1] ?? 0);
  return {
    issue: key,
    should_fix: n % 3 !== 0,
    complexity: (["low", "medium", "high"] as const)[n % 3],
    plan: `The issue is real. 1. Extract the shared ${WORDS[n % WORDS.length]} logic into one module. 2. Replace the two copies. 3. Add a regression test for the edge case. 4. Remove the deprecated path once callers moved.`,
    affected_files: [AFFECTED[n % AFFECTED.length]!, AFFECTED[(n * 7 + 1) % AFFECTED.length]!],
  };
};

// ---------- the counting server ----------
interface Counter {
  calls: number;
  prompt: number;
  cached: number;
  completion: number;
}
const counters: Record<string, Counter> = {};
const caches: Record<string, Set<string>> = {};

/** OpenAI's rule: the longest earlier-seen prefix of >= 1,024 tokens, in 128-token steps. */
function cachedTokens(mode: string, tokens: number[]): number {
  const seen = (caches[mode] ??= new Set());
  const h = createHash("sha256");
  let hit = 0;
  const marks: string[] = [];
  let pos = 0;
  for (let end = 1024; end <= tokens.length; end += 128) {
    h.update(Uint32Array.from(tokens.slice(pos, end)));
    pos = end;
    const key = `${end}:${h.copy().digest("hex")}`;
    marks.push(key);
    if (seen.has(key)) hit = end;
  }
  for (const k of marks) seen.add(k);
  return hit;
}

const chatBodySchema = z.object({
  messages: z.array(
    z.object({ role: z.enum(["system", "user", "assistant"]), content: z.string() }),
  ),
});

/** One chat completion, counted for `mode`: the answer as the API returns it. */
function complete(mode: string, raw: unknown): Record<string, unknown> {
  const body = chatBodySchema.parse(raw);
  const tokens = encodeChat(body.messages, MODEL);
  const cached = cachedTokens(mode, tokens);
  const keys = [
    ...body.messages
      .map((x) => x.content)
      .join("\n")
      .matchAll(/^<<<ISSUE (.+?)>>>$/gm),
  ].map((k) => k[1]!);
  const content = JSON.stringify({ analyses: keys.map(canned) });
  const completion = encode(content).length;
  const c = (counters[mode] ??= { calls: 0, prompt: 0, cached: 0, completion: 0 });
  c.calls++;
  c.prompt += tokens.length;
  c.cached += cached;
  c.completion += completion;
  return {
    id: `cmpl-${nextId++}`,
    object: "chat.completion",
    created: 1,
    model: MODEL,
    choices: [
      {
        index: 0,
        finish_reason: "stop",
        logprobs: null,
        message: { role: "assistant", content, refusal: null },
      },
    ],
    usage: {
      prompt_tokens: tokens.length,
      completion_tokens: completion,
      total_tokens: tokens.length + completion,
      prompt_tokens_details: { cached_tokens: cached },
    },
  };
}

const readBody = (req: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
const read = async (req: IncomingMessage): Promise<string> =>
  (await readBody(req)).toString("utf8");

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};

/** The Batch API's state: uploaded and produced files, and jobs (each completes when created). */
const files = new Map<string, string>();
const jobs = new Map<string, Record<string, unknown>>();
const batchLineSchema = z.object({
  custom_id: z.string(),
  method: z.literal("POST"),
  url: z.literal("/v1/chat/completions"),
  body: z.unknown(),
});
const batchCreateSchema = z.object({
  input_file_id: z.string(),
  endpoint: z.literal("/v1/chat/completions"),
  completion_window: z.string(),
});

/** A Batch API job, run at once: each line counted and cached exactly as a synchronous call. */
function runJob(mode: string, inputFileId: string, window: string): Record<string, unknown> {
  const input = files.get(inputFileId);
  if (input === undefined) throw new Error(`no file ${inputFileId}`);
  const out: string[] = [];
  for (const raw of input.split("\n")) {
    if (!raw.trim()) continue;
    const line = batchLineSchema.parse(JSON.parse(raw));
    const body = complete(mode, line.body);
    out.push(
      JSON.stringify({
        id: `batch_req_${nextId++}`,
        custom_id: line.custom_id,
        response: { status_code: 200, request_id: `req_${nextId++}`, body },
        error: null,
      }),
    );
  }
  const outputId = `file-out-${nextId++}`;
  files.set(outputId, `${out.join("\n")}\n`);
  const id = `batch_${nextId++}`;
  const job = {
    id,
    object: "batch",
    endpoint: "/v1/chat/completions",
    input_file_id: inputFileId,
    completion_window: window,
    status: "completed",
    output_file_id: outputId,
    error_file_id: null,
    errors: null,
    created_at: 1,
    completed_at: 2,
    request_counts: { total: out.length, completed: out.length, failed: 0 },
    metadata: {},
  };
  jobs.set(id, job);
  return job;
}

let nextId = 1;
async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (process.env.BENCH_DEBUG) console.error(req.method, req.url);
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const m = /^\/(\w+)\/v1\/(.+)$/.exec(url.pathname);
  if (m && m[1] !== "gh") {
    const mode = m[1]!;
    const route = m[2]!;
    if (route === "chat/completions" && req.method === "POST")
      return json(res, 200, complete(mode, JSON.parse(await read(req))));
    if (route === "files" && req.method === "POST") {
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers))
        if (typeof v === "string") headers.set(k, v);
      const form = await new Request("http://127.0.0.1/", {
        method: "POST",
        headers,
        body: new Uint8Array(await readBody(req)),
      }).formData();
      const file = form.get("file");
      if (form.get("purpose") !== "batch" || !(file instanceof Blob))
        return json(res, 400, { error: { message: "expected a batch file" } });
      const id = `file-in-${nextId++}`;
      files.set(id, await file.text());
      return json(res, 200, {
        id,
        object: "file",
        bytes: file.size,
        created_at: 1,
        filename: "bg-agent-batch.jsonl",
        purpose: "batch",
        status: "processed",
      });
    }
    const content = /^files\/([\w-]+)\/content$/.exec(route);
    if (content && req.method === "GET") {
      const text = files.get(content[1]!);
      if (text === undefined) return json(res, 404, { error: { message: "no such file" } });
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.end(text);
      return;
    }
    if (route === "batches" && req.method === "POST") {
      const b = batchCreateSchema.parse(JSON.parse(await read(req)));
      return json(res, 200, runJob(mode, b.input_file_id, b.completion_window));
    }
    const job = /^batches\/([\w-]+)$/.exec(route);
    if (job && req.method === "GET") {
      const j = jobs.get(job[1]!);
      return j ? json(res, 200, j) : json(res, 404, { error: { message: "no such batch" } });
    }
  }
  // A minimal GitHub for bg-agent's reports.
  if (url.pathname.startsWith("/gh/")) {
    const p = url.pathname.slice(3);
    if (req.method === "GET") {
      if (p === `/repos/${REPO}`) return json(res, 200, { default_branch: "main" });
      if (p === `/repos/${REPO}/branches/main`)
        return json(res, 200, { commit: { sha: "b".repeat(40) } });
      if (/\/comments$/.test(p)) return json(res, 200, []);
      if (/\/check-runs$/.test(p)) return json(res, 200, { total_count: 0, check_runs: [] });
      if (p === `/repos/${REPO}/issues`) return json(res, 200, []);
    }
    await read(req);
    const id = nextId++;
    return json(res, req.method === "POST" ? 201 : 200, {
      id,
      number: id,
      html_url: `https://github.com/${REPO}/x/${id}`,
    });
  }
  json(res, 404, { message: `no route ${req.method} ${url.pathname}` });
}

// ---------- bg-agent ----------
interface AgentRun {
  /** Calls (synchronous) or Batch API lines, as the store's batches say. */
  batches: number;
  /** The issues of each call, in order. */
  groups: string[][];
  /** What the app recorded as spend (USD), by pricing.ts. */
  spendUsd: number;
  ctx: ProcessorContext;
  context: ProjectContext;
}

async function bgAgent(
  base: string,
  ws: string,
  mode: string,
  tech: Record<string, unknown>,
  issues: Issue[] = ISSUES,
): Promise<AgentRun> {
  resetLimiters();
  clearTokenCounts();
  const store = createStore(await openSqlite({ path: ":memory:" }));
  const octokit = createTokenClient({ token: "ghs_bench", baseUrl: `${base}/gh`, retries: false });
  const config = parseConfig({
    rate_limit: { rpm: 100_000, tpm: 1_000_000_000 },
    budget: { daily_usd: 1_000, monthly_usd: 10_000 },
    activity: { pause_when_active_minutes: 0 },
    tech_debt: tech,
  });
  const envOf = (): WorkerEnv => ({
    store,
    log: silentLogger,
    github: async () => octokit,
    config: async () => config,
    // The app's default limit (10 requests, 100k tokens a minute) would make the bench wait.
    llm: {
      provider: "openai",
      model: MODEL,
      apiKey: "sk-bench",
      baseUrl: `${base}/${mode}/v1`,
      rateLimit: { rpm: 1_000_000, tpm: 1_000_000_000_000 },
    },
    dryRun: false,
    run: createRunState(),
    workspace: ws,
    owner: "bench",
  });
  for (const i of issues) {
    await store.tasks.enqueue({
      repo: REPO,
      type: "tech_debt_analysis",
      source: `issue:${i.number}`,
      payload: { key: i.key, number: i.number, title: i.title, body: i.body, labels: [] },
      contentHash: hashOf({ title: i.title, body: i.body }),
    });
  }
  let env = envOf();
  let summary = await runPass(env, createProcessors(), { repo: REPO, mode: "analyze" });
  if (tech.openai_batch) {
    // The Batch API: the first pass submitted, a later pass (a new run) polls and reports.
    env = envOf();
    summary = await runPass(env, createProcessors(), { repo: REPO, mode: "analyze" });
  }
  const done = (await store.tasks.list({ repo: REPO, limit: 10_000 })).filter(
    (t) => t.status === "done",
  );
  if (done.length !== N)
    throw new Error(
      `bg-agent (${mode}) analysed ${done.length} of ${N}: ${JSON.stringify(summary.repos[0]?.processed.slice(0, 3))}`,
    );
  const octo = await env.github(REPO);
  const cfg = await env.config(REPO, octo);
  if (!cfg.ok) throw new Error("bench config invalid");
  const ctx: ProcessorContext = {
    repo: { owner: "bench", repo: "zod" },
    repoName: REPO,
    octokit: octo,
    config: cfg.config,
    configResult: cfg,
    store,
    log: silentLogger,
    env,
  };
  const batches = await store.batches.list({ repo: REPO, limit: 1000 });
  const byTask = new Map(done.map((t) => [t.id, t]));
  const groups: string[][] = [];
  for (const b of [...batches].sort((x, y) => x.id - y.id)) {
    const ids = await store.batches.taskIds(b.id);
    groups.push(ids.map((id) => String(byTask.get(id)?.payload.key ?? "")).filter((k) => k !== ""));
  }
  return {
    batches: batches.length,
    groups,
    spendUsd: await store.spend.month(REPO),
    ctx,
    context: await projectContext(ctx),
  };
}

/** The issues as the app's items, with the files each names resolved through the map. */
async function itemsOf(run: AgentRun): Promise<Map<string, Item>> {
  const tasks = await run.ctx.store.tasks.list({ repo: REPO, limit: 10_000 });
  const items = tasks
    .map((t) => toItem(run.ctx, t))
    .filter((x): x is Item => typeof x !== "string");
  await resolveIssueFiles(run.context, items, run.ctx.config.tech_debt.context.issue_file_tokens);
  return new Map(items.map((it) => [it.key, it]));
}

// ---------- the per-issue modes ----------
async function perIssue(
  base: string,
  mode: string,
  contextText: string,
  filesOf: (key: string) => string,
  issues: Issue[] = ISSUES,
): Promise<void> {
  const client = new OpenAI({ apiKey: "sk-bench", baseURL: `${base}/${mode}/v1`, maxRetries: 0 });
  for (const i of issues) {
    const block = issueBlock({ key: i.key, title: i.title, body: i.body });
    const files = filesOf(i.key);
    const withFiles = files ? `${files}\n\n` : "";
    const messages = mode.startsWith("a")
      ? [
          {
            role: "user" as const,
            content: `${withFiles}Analyse this issue and answer in JSON. Key: ${i.key}\n\n${block}`,
          },
          ...prefixMessages(contextText),
        ]
      : [
          ...prefixMessages(contextText),
          {
            role: "user" as const,
            content: `${withFiles}Analyse these 1 issue(s) and answer in JSON. Keys: ${i.key}\n\n${block}`,
          },
        ];
    await client.chat.completions.create({
      model: MODEL,
      messages,
      response_format: {
        type: "json_schema",
        json_schema: { name: "tech_debt_analyses", schema: ANALYSIS_JSON_SCHEMA, strict: true },
      },
    });
  }
}

// ---------- report ----------
const OPENAI: Price = PRICES["openai:gpt-4o-mini"]!;
const DEEPSEEK: Price = PRICES["deepseek:deepseek-chat"]!;
/** A newer OpenAI price list, whose cached tokens cost a quarter (gpt-4o-mini's: half). */
const MINI41: Price = PRICES["openai:gpt-4.1-mini"]!;
/** If OpenAI stacked the cached-input and batch discounts for this model (not assumed). */
const STACKED: Price = { ...OPENAI, batchCachedInput: OPENAI.cachedInput * BATCH_DISCOUNT };

const tok = (c: Counter) => ({
  promptTokens: c.prompt,
  cachedTokens: c.cached,
  completionTokens: c.completion,
});
const sync = (c: Counter, p: Price) => costOf(tok(c), p);
const batch = (c: Counter, p: Price) => batchCostOf(tok(c), p);
const per100 = (x: number) => (x * 100) / N;

/**
 * The lower bound for a run's calls: the shared prefix once uncached and cached in every later
 * call, each issue's block once, each file an issue names once in the whole run (cut as the app
 * cuts it for one issue), and the outputs.
 */
function lowerBound(prefixTokens: number, calls: number, rest: number, completion: number) {
  return {
    calls,
    prompt: prefixTokens * calls + rest,
    cached: prefixTokens * (calls - 1),
    completion,
  };
}

interface Row {
  key: string;
  name: string;
  counter: Counter;
  usd: number;
  usdDeepseek: number | null;
  lowerBoundUsd: number;
  extra?: Record<string, unknown>;
}

async function main(): Promise<void> {
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => json(res, 500, { message: String(e) }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const started = Date.now();
  try {
    const ws = makeZodWorkspace();
    const BATCH_SIZE = defaultConfig().tech_debt.batch_size;
    // The default before 2026-12-07 (batch_size 10; the Batch API at the synchronous size before
    // openai_batch_size), for comparison in the same run.
    const OLD = 10;
    console.error("(c) bg-agent, synchronous…");
    const c = await bgAgent(base, ws, "c", { ...CONTEXT });
    console.error("(d) bg-agent, OpenAI Batch API…");
    const d = await bgAgent(base, ws, "d", { ...CONTEXT, openai_batch: true });
    console.error(`(e) bg-agent, OpenAI Batch API, openai_batch_size ${OLD}…`);
    const e = await bgAgent(base, ws, "e", {
      ...CONTEXT,
      openai_batch: true,
      openai_batch_size: OLD,
    });
    const dSize = d.ctx.config.tech_debt.openai_batch_size;
    // Synchronous calls of the old default size: the prefix's cached reads, about half of a
    // call's cost with gpt-4o-mini's 50 % cache discount, spread over half the issues.
    console.error(`(f) bg-agent, synchronous, batch_size ${OLD}…`);
    const f = await bgAgent(base, ws, "f", { ...CONTEXT, batch_size: OLD });

    const items = await itemsOf(c);
    const budget = c.ctx.config.tech_debt.context.issue_file_tokens;
    const filesOf = (key: string): string => {
      const it = items.get(key);
      return it ? batchFiles([it], budget).text : "";
    };
    console.error("(a), (b) one call per issue…");
    await perIssue(base, "a", c.context.text, filesOf);
    await perIssue(base, "b", c.context.text, filesOf);
    console.error("control: the same issues naming no file, (a) and (c)…");
    const c0 = await bgAgent(base, ws, "c0", { ...CONTEXT }, PLAIN);
    await perIssue(base, "a0", c.context.text, () => "", PLAIN);

    const contextText = c.context.text;
    const prefixTokens = encodeChat(
      prefixMessages(contextText) as { role: "system"; content: string }[],
      MODEL,
    ).length;
    const issueTokens = ISSUES.reduce(
      (n, i) => n + encode(issueBlock({ key: i.key, title: i.title, body: i.body })).length,
      0,
    );
    // Each named file once in the run, as cut for one issue.
    const distinct = new Map<string, number>();
    for (const it of items.values())
      for (const f of it.namedFiles ?? [])
        if (!distinct.has(f.path))
          distinct.set(
            f.path,
            encode(batchFiles([{ ...it, namedFiles: [f] }], budget).text).length,
          );
    const fileTokens = [...distinct.values()].reduce((n, x) => n + x, 0);
    const named = [...items.values()].filter((it) => it.namedFiles?.length).length;
    const rest = issueTokens + fileTokens;

    const lb = (run: AgentRun, mode: string) =>
      lowerBound(prefixTokens, run.batches, rest, counters[mode]!.completion);
    const lbC = lb(c, "c");
    const lbD = lb(d, "d");
    const lbE = lb(e, "e");
    const lbF = lb(f, "f");
    const plainTokens = PLAIN.reduce(
      (n, i) => n + encode(issueBlock({ key: i.key, title: i.title, body: i.body })).length,
      0,
    );
    const lbC0 = lowerBound(prefixTokens, c0.batches, plainTokens, counters.c0!.completion);
    const control = Object.fromEntries(
      (
        [
          ["openai", OPENAI],
          ["deepseek", DEEPSEEK],
        ] as const
      ).map(([name, p]) => [
        name,
        {
          a_usd_per_100: per100(sync(counters.a0!, p)),
          c_usd_per_100: per100(sync(counters.c0!, p)),
          lower_bound_usd_per_100: per100(sync(lbC0, p)),
          a_over_c: sync(counters.a0!, p) / sync(counters.c0!, p),
          c_over_lower_bound: sync(counters.c0!, p) / sync(lbC0, p),
        },
      ]),
    );
    const rows: Row[] = [
      {
        key: "a",
        name: "(a) per issue, issue first",
        counter: counters.a!,
        usd: sync(counters.a!, OPENAI),
        usdDeepseek: sync(counters.a!, DEEPSEEK),
        lowerBoundUsd: sync(lbC, OPENAI),
      },
      {
        key: "b",
        name: "(b) per issue, cached prefix",
        counter: counters.b!,
        usd: sync(counters.b!, OPENAI),
        usdDeepseek: sync(counters.b!, DEEPSEEK),
        lowerBoundUsd: sync(lbC, OPENAI),
      },
      {
        key: "c",
        name: `(c) bg-agent, batches of ${BATCH_SIZE}`,
        counter: counters.c!,
        usd: sync(counters.c!, OPENAI),
        usdDeepseek: sync(counters.c!, DEEPSEEK),
        lowerBoundUsd: sync(lbC, OPENAI),
        extra: { app_recorded_usd_per_100: per100(c.spendUsd) },
      },
      {
        key: "lower_bound",
        name: "lower bound",
        counter: lbC,
        usd: sync(lbC, OPENAI),
        usdDeepseek: sync(lbC, DEEPSEEK),
        lowerBoundUsd: sync(lbC, OPENAI),
      },
      {
        key: "openai_batch_api",
        name: `(d) Batch API, default (${dSize})`,
        counter: counters.d!,
        usd: batch(counters.d!, OPENAI),
        usdDeepseek: null,
        lowerBoundUsd: batch(lbD, OPENAI),
        extra: {
          batch_size: dSize,
          app_recorded_usd_per_100: per100(d.spendUsd),
          usd_per_100_if_discounts_stack: per100(batch(counters.d!, STACKED)),
        },
      },
      {
        key: `openai_batch_api_batch_size_${OLD}`,
        name: `(e) Batch API, openai_batch_size: ${OLD}`,
        counter: counters.e!,
        usd: batch(counters.e!, OPENAI),
        usdDeepseek: null,
        lowerBoundUsd: batch(lbE, OPENAI),
        extra: {
          batch_size: OLD,
          app_recorded_usd_per_100: per100(e.spendUsd),
          usd_per_100_if_discounts_stack: per100(batch(counters.e!, STACKED)),
        },
      },
      {
        key: `sync_batch_size_${OLD}`,
        name: `(f) bg-agent, batch_size: ${OLD}`,
        counter: counters.f!,
        usd: sync(counters.f!, OPENAI),
        usdDeepseek: sync(counters.f!, DEEPSEEK),
        lowerBoundUsd: sync(lbF, OPENAI),
        extra: { batch_size: OLD, app_recorded_usd_per_100: per100(f.spendUsd) },
      },
    ];
    const aUsd = rows[0]!.usd;
    const aDeepseek = rows[0]!.usdDeepseek!;
    const cRow = rows[2]!;
    const dRow = rows[4]!;
    const eRow = rows[5]!;
    const ratios = {
      openai: {
        a_over_c: aUsd / cRow.usd,
        b_over_c: rows[1]!.usd / cRow.usd,
        c_over_lower_bound: cRow.usd / cRow.lowerBoundUsd,
        a_over_batch_api: aUsd / dRow.usd,
        a_over_batch_api_if_discounts_stack: aUsd / batch(counters.d!, STACKED),
        a_over_batch_api_batch_size_10: aUsd / eRow.usd,
        a_over_batch_api_batch_size_10_if_discounts_stack: aUsd / batch(counters.e!, STACKED),
      },
      gpt_4_1_mini: {
        a_over_c: sync(counters.a!, MINI41) / sync(counters.c!, MINI41),
        c_over_lower_bound: sync(counters.c!, MINI41) / sync(lbC, MINI41),
        a_over_batch_api: sync(counters.a!, MINI41) / batch(counters.d!, MINI41),
        a_over_batch_api_if_discounts_stack:
          sync(counters.a!, MINI41) /
          batch(counters.d!, { ...MINI41, batchCachedInput: MINI41.cachedInput * BATCH_DISCOUNT }),
      },
      deepseek: {
        a_over_c: aDeepseek / cRow.usdDeepseek!,
        b_over_c: rows[1]!.usdDeepseek! / cRow.usdDeepseek!,
        c_over_lower_bound: cRow.usdDeepseek! / sync(lbC, DEEPSEEK),
      },
    };
    const targets = {
      a_over_c_at_least: 13,
      c_over_lower_bound_at_most: 1.1,
      a_over_batch_api_at_least: 25,
      met_sync:
        ratios.openai.a_over_c >= 13 &&
        ratios.deepseek.a_over_c >= 13 &&
        ratios.openai.c_over_lower_bound <= 1.1 &&
        ratios.deepseek.c_over_lower_bound <= 1.1,
      met_sync_openai: ratios.openai.a_over_c >= 13 && ratios.openai.c_over_lower_bound <= 1.1,
      met_batch_api_default: ratios.openai.a_over_batch_api >= 25,
    };

    const table: string[] = [];
    const cols = [
      "mode".padEnd(38),
      "calls".padStart(5),
      "prompt tok".padStart(10),
      "cached".padStart(7),
      "output".padStart(7),
      "OpenAI $".padStart(9),
      "DeepSeek $".padStart(10),
      "(a)/x".padStart(6),
      "x/LB".padStart(6),
    ];
    table.push(cols.join(" "));
    const out: Record<string, unknown> = {};
    for (const r of rows) {
      const share = r.counter.prompt ? r.counter.cached / r.counter.prompt : 0;
      out[r.key] = {
        name: r.name,
        calls: r.counter.calls,
        prompt_tokens: r.counter.prompt,
        cached_tokens: r.counter.cached,
        completion_tokens: r.counter.completion,
        cached_share: share,
        per_100_issues: {
          prompt_tokens: per100(r.counter.prompt),
          cached_tokens: per100(r.counter.cached),
          completion_tokens: per100(r.counter.completion),
          usd_openai_gpt_4o_mini: per100(r.usd),
          ...(r.usdDeepseek !== null ? { usd_deepseek_chat: per100(r.usdDeepseek) } : {}),
        },
        a_over_this: aUsd / r.usd,
        over_lower_bound: r.usd / r.lowerBoundUsd,
        ...r.extra,
      };
      table.push(
        [
          r.name.padEnd(38),
          String(per100(r.counter.calls)).padStart(5),
          String(Math.round(per100(r.counter.prompt))).padStart(10),
          `${(100 * share).toFixed(1)}%`.padStart(7),
          String(Math.round(per100(r.counter.completion))).padStart(7),
          per100(r.usd).toFixed(5).padStart(9),
          (r.usdDeepseek === null ? "n/a" : per100(r.usdDeepseek).toFixed(5)).padStart(10),
          `${(aUsd / r.usd).toFixed(1)}x`.padStart(6),
          `${(r.usd / r.lowerBoundUsd).toFixed(3)}`.padStart(6),
        ].join(" "),
      );
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `\nbench/cost: ${N} issues (${named} name a zod file or symbol: ${distinct.size} distinct files, ${fileTokens} tokens once each) on ${REPO} (node_modules/zod/src, ${c.context.files} files; map covers ${c.context.map?.covered ?? 0})\n` +
        `context ${c.context.tokens} tokens by the app's counter (prefix ${prefixTokens} with the instructions), model ${MODEL}, per 100 issues; ${seconds.toFixed(0)} s\n`,
    );
    console.log(table.join("\n"));
    console.log(
      `\nBatch API rows at the honest default (cached batch tokens at max(cached, batch input) = $${Math.max(OPENAI.cachedInput, OPENAI.input * BATCH_DISCOUNT).toFixed(3)}/1M);` +
        ` if discounts stack ($${STACKED.batchCachedInput!.toFixed(4)}/1M): (d) $${per100(batch(counters.d!, STACKED)).toFixed(5)} = ${ratios.openai.a_over_batch_api_if_discounts_stack.toFixed(1)}x, (e) $${per100(batch(counters.e!, STACKED)).toFixed(5)} = ${ratios.openai.a_over_batch_api_batch_size_10_if_discounts_stack.toFixed(1)}x`,
    );
    console.log(
      `app-recorded spend per 100: (c) $${per100(c.spendUsd).toFixed(5)}, (d) $${per100(d.spendUsd).toFixed(5)}, (e) $${per100(e.spendUsd).toFixed(5)}`,
    );
    const m41 = ratios.gpt_4_1_mini;
    console.log(
      `gpt-4.1-mini prices (cached a quarter of input): (a)/(c) = ${m41.a_over_c.toFixed(1)}x, (c)/lower bound = ${m41.c_over_lower_bound.toFixed(3)}, (a)/(d) = ${m41.a_over_batch_api.toFixed(1)}x (${m41.a_over_batch_api_if_discounts_stack.toFixed(1)}x if discounts stack)`,
    );
    console.log(
      `DeepSeek: (a)/(c) = ${ratios.deepseek.a_over_c.toFixed(1)}x, (c)/lower bound = ${ratios.deepseek.c_over_lower_bound.toFixed(3)}`,
    );
    console.log(
      `control, the same issues naming no file: (a)/(c) = ${control.openai!.a_over_c.toFixed(1)}x OpenAI, ${control.deepseek!.a_over_c.toFixed(1)}x DeepSeek; (c)/lower bound = ${control.openai!.c_over_lower_bound.toFixed(3)} / ${control.deepseek!.c_over_lower_bound.toFixed(3)}; (c) $${control.openai!.c_usd_per_100.toFixed(5)} per 100 (${counters.c0!.calls} calls, cached share ${((100 * counters.c0!.cached) / counters.c0!.prompt).toFixed(1)} %)`,
    );
    const sentFiles = counters.c!.prompt - counters.c0!.prompt;
    console.log(
      `files the issues name: (c) sent ${sentFiles} more prompt tokens than the control for 200 issues; each distinct file once would be ${fileTokens}`,
    );
    console.log(
      `targets: (a)/(c) >= 13x and (c)/lower bound <= 1.1: ${targets.met_sync ? "met" : "NOT met"} (at OpenAI's prices: ${targets.met_sync_openai ? "met" : "NOT met"}; DeepSeek's too: ${targets.met_sync ? "met" : "NOT met"}); (a)/(d) >= 25x: ${targets.met_batch_api_default ? "met" : "NOT met"}`,
    );
    mkdirSync(join(here, "results"), { recursive: true });
    writeFileSync(
      join(here, "results", INCLUDE.length ? "cost-include.json" : "cost.json"),
      `${JSON.stringify(
        {
          repository: "node_modules/zod/src + README.md",
          context_include: INCLUDE,
          issues: N,
          issues_naming_files: named,
          distinct_named_files: distinct.size,
          named_file_tokens_once: fileTokens,
          model: MODEL,
          tokenizer: tokenCounterFor("openai", MODEL).id,
          files: c.context.files,
          map_covered: c.context.map?.covered ?? 0,
          context_tokens: c.context.tokens,
          prefix_tokens: prefixTokens,
          issue_tokens_total: issueTokens,
          batch_size_sync: BATCH_SIZE,
          seconds,
          modes: out,
          ratios,
          control_issues_naming_no_file: control,
          targets,
        },
        null,
        2,
      )}\n`,
    );
    if (!targets.met_sync || !targets.met_batch_api_default) process.exitCode = 1;
  } finally {
    server.close();
  }
}

await main();
