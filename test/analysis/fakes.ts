import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { chatCompletionBody } from "../helpers/fake-llm.js";

export const HEAD_SHA = "a".repeat(40);

export interface Recorded {
  method: string;
  path: string;
  body: unknown;
}

export interface FakeIssue {
  number: number;
  title: string;
  body: string;
  labels: string[];
  comments?: { id: number; body: string; user?: { login: string; type: string } }[];
  pull_request?: boolean;
}

/**
 * A small GitHub for nock: issues, comments, labels, check runs, the dashboard issue, repo and
 * branch. Only the methods listed are intercepted, so an unexpected write fails the test.
 */
export function fakeGitHub(
  repo: string,
  issues: FakeIssue[],
  methods: ("get" | "post" | "patch" | "delete")[] = ["get", "post"],
) {
  const requests: Recorded[] = [];
  const checkRuns: {
    id: number;
    name: string;
    head_sha: string;
    output: { title: string; summary: string; text?: string };
    conclusion?: string;
  }[] = [];
  const created: FakeIssue[] = [];
  let nextId = 1000;
  const base = `/repos/${repo}`;
  const scope = nock("https://api.github.com").persist();
  const handle = (method: string) =>
    function (this: unknown, uri: string, body: unknown): [number, unknown] {
      const url = new URL(uri, "https://api.github.com");
      const path = decodeURIComponent(url.pathname);
      requests.push({ method, path: path + url.search, body });
      const issue = (n: string) => [...issues, ...created].find((i) => i.number === Number(n));
      let m: RegExpExecArray | null;
      if (method === "GET") {
        if (path === base) return [200, { full_name: repo, default_branch: "main" }];
        if (path === `${base}/branches/main`)
          return [200, { name: "main", commit: { sha: HEAD_SHA } }];
        if (path === `${base}/issues`) {
          const label = url.searchParams.get("labels");
          const list = [...issues, ...created]
            .filter((i) => !label || i.labels.includes(label))
            .map((i) => ({
              number: i.number,
              title: i.title,
              body: i.body,
              html_url: `https://github.com/${repo}/issues/${i.number}`,
              labels: i.labels.map((name) => ({ name })),
              comments: i.comments?.length ?? 0,
              ...("pull_request" in i && i.pull_request ? { pull_request: { url: "x" } } : {}),
            }));
          return [200, list];
        }
        if ((m = new RegExp(`^${base}/issues/(\\d+)/comments$`).exec(path))) {
          const i = issue(m[1]!);
          return [
            200,
            (i?.comments ?? []).map((c) => ({
              ...c,
              html_url: `https://github.com/${repo}/issues/${i!.number}#issuecomment-${c.id}`,
              user: c.user ?? { login: "bg-agent[bot]", type: "Bot" },
            })),
          ];
        }
        if ((m = new RegExp(`^${base}/commits/([0-9a-f]+)/check-runs$`).exec(path))) {
          const name = url.searchParams.get("check_name");
          const runs = checkRuns.filter((c) => c.head_sha === m![1] && (!name || c.name === name));
          return [200, { total_count: runs.length, check_runs: runs }];
        }
      }
      if (method === "POST") {
        const b = body as Record<string, unknown>;
        if ((m = new RegExp(`^${base}/issues/(\\d+)/comments$`).exec(path))) {
          const i = issue(m[1]!);
          const c = { id: nextId++, body: String(b.body) };
          if (i) (i.comments ??= []).push(c);
          return [
            201,
            { ...c, html_url: `https://github.com/${repo}/issues/${m[1]}#issuecomment-${c.id}` },
          ];
        }
        if ((m = new RegExp(`^${base}/issues/(\\d+)/labels$`).exec(path))) {
          const i = issue(m[1]!);
          for (const l of b.labels as string[]) if (i && !i.labels.includes(l)) i.labels.push(l);
          return [200, (i?.labels ?? []).map((name) => ({ name }))];
        }
        if (path === `${base}/check-runs`) {
          const c = {
            id: nextId++,
            name: String(b.name),
            head_sha: String(b.head_sha),
            output: b.output as never,
            conclusion: b.conclusion as string,
          };
          checkRuns.push(c);
          return [201, { ...c, html_url: `https://github.com/${repo}/runs/${c.id}` }];
        }
        if (path === `${base}/issues`) {
          const n: FakeIssue = {
            number: 900 + created.length,
            title: String(b.title),
            body: String(b.body),
            labels: (b.labels as string[]) ?? [],
            comments: [],
          };
          created.push(n);
          return [
            201,
            { ...n, comments: 0, html_url: `https://github.com/${repo}/issues/${n.number}` },
          ];
        }
      }
      if (method === "PATCH") {
        const b = body as Record<string, unknown>;
        if ((m = new RegExp(`^${base}/issues/comments/(\\d+)$`).exec(path))) {
          for (const i of issues)
            for (const c of i.comments ?? []) if (c.id === Number(m[1])) c.body = String(b.body);
          return [
            200,
            {
              id: Number(m[1]),
              body: b.body,
              html_url: `https://github.com/${repo}/issues/comments/${m[1]}`,
            },
          ];
        }
        if ((m = new RegExp(`^${base}/check-runs/(\\d+)$`).exec(path))) {
          const c = checkRuns.find((x) => x.id === Number(m![1]));
          if (c) Object.assign(c, { output: b.output, conclusion: b.conclusion });
          return [200, { ...c, html_url: `https://github.com/${repo}/runs/${m[1]}` }];
        }
      }
      if (method === "DELETE") {
        if ((m = new RegExp(`^${base}/issues/(\\d+)/labels/(.+)$`).exec(path))) {
          const i = issue(m[1]!);
          if (!i?.labels.includes(m[2]!)) return [404, { message: "Label does not exist" }];
          i.labels = i.labels.filter((l) => l !== m![2]);
          return [200, []];
        }
      }
      return [404, { message: `fake GitHub: no route for ${method} ${path}` }];
    };
  for (const meth of methods) {
    if (meth === "get") scope.get(/.*/).query(true).reply(handle("GET"));
    if (meth === "post") scope.post(/.*/).query(true).reply(handle("POST"));
    if (meth === "patch") scope.patch(/.*/).query(true).reply(handle("PATCH"));
    if (meth === "delete") scope.delete(/.*/).query(true).reply(handle("DELETE"));
  }
  const writes = () => requests.filter((r) => r.method !== "GET");
  return { requests, writes, checkRuns, issues, created };
}

export interface ChatBody {
  model: string;
  messages: { role: string; content: string }[];
  response_format?: { type: string; json_schema?: { strict?: boolean } };
  max_tokens?: number;
  max_completion_tokens?: number;
}

/** The issue keys of an analysis request, in order. */
export const keysOf = (body: ChatBody): string[] =>
  [...(body.messages.at(-1)?.content ?? "").matchAll(/^<<<ISSUE (.+?)>>>$/gm)].map((m) => m[1]!);

export const analysisFor = (key: string, over: Record<string, unknown> = {}) => ({
  issue: key,
  should_fix: true,
  complexity: "low",
  plan: `1. Fix ${key}.\n2. Add a test.`,
  affected_files: ["src/index.ts"],
  ...over,
});

/**
 * A fake OpenAI chat completions endpoint for nock with OpenAI's caching rule approximated on
 * characters (4 per token): a prefix of >= 1,024 tokens identical to an earlier request's is
 * cached, in 128-token steps. `answer` builds the content from the request.
 */
type Reply =
  | string
  /** An answer with its finish_reason: `length` is one cut off at max_tokens. */
  | { content: string; finishReason: string }
  | { status: number; body: unknown; headers?: Record<string, string> };

export function fakeOpenAI(
  answer: (body: ChatBody, call: number) => Reply | Promise<Reply>,
  o: { times?: number; base?: string } = {},
) {
  const calls: ChatBody[] = [];
  const seen: string[] = [];
  const scope = nock(o.base ?? "https://api.openai.com").post("/v1/chat/completions");
  const interceptor = o.times ? scope.times(o.times) : scope;
  interceptor.reply(async (_uri, raw) => {
    const body = (typeof raw === "string" ? JSON.parse(raw) : raw) as ChatBody;
    calls.push(body);
    const text = body.messages.map((m) => `${m.role}:${m.content}`).join("\n");
    let lcp = 0;
    for (const prev of seen) {
      let k = 0;
      const n = Math.min(prev.length, text.length);
      while (k < n && prev.charCodeAt(k) === text.charCodeAt(k)) k++;
      lcp = Math.max(lcp, k);
    }
    seen.push(text);
    const promptTokens = Math.ceil(text.length / 4);
    const lcpTokens = Math.floor(lcp / 4);
    const cached = lcpTokens >= 1024 ? 1024 + Math.floor((lcpTokens - 1024) / 128) * 128 : 0;
    const a = await answer(body, calls.length);
    if (typeof a !== "string" && "status" in a) return [a.status, a.body, a.headers ?? {}];
    const content = typeof a === "string" ? a : a.content;
    return [
      200,
      chatCompletionBody(
        content,
        {
          prompt_tokens: promptTokens,
          completion_tokens: Math.ceil(content.length / 4),
          total_tokens: promptTokens + Math.ceil(content.length / 4),
          prompt_tokens_details: { cached_tokens: cached },
        },
        {
          id: `chatcmpl-${calls.length}`,
          model: body.model,
          ...(typeof a === "string" ? {} : { finishReason: a.finishReason }),
        },
      ),
    ];
  });
  return { calls };
}

/** Answers every issue of the request validly. */
export const answerAll = (body: ChatBody): string =>
  JSON.stringify({ analyses: keysOf(body).map((k) => analysisFor(k)) });

/** A checked-out repository with a README of about `readmeTokens` tokens. */
export function workspace(readmeTokens = 3000): string {
  const dir = mkdtempSync(join(tmpdir(), "bg-ws-"));
  const para = "This project keeps a queue of background work and reports results on GitHub. ";
  writeFileSync(
    join(dir, "README.md"),
    `# Demo\n\n${para.repeat(Math.ceil((readmeTokens * 4) / para.length))}`,
  );
  writeFileSync(join(dir, "CONTRIBUTING.md"), "# Contributing\n\nRun the tests before you push.\n");
  mkdirSync(join(dir, "src"));
  writeFileSync(join(dir, "src", "index.ts"), "export const x = 1;\n");
  writeFileSync(join(dir, "src", "queue.ts"), "export class Queue {}\n");
  return dir;
}

/** Collects requests nock could not match (they would otherwise vanish in caught errors). */
export function unmatched(): { list: string[]; stop(): void } {
  const list: string[] = [];
  const on = (req: {
    method?: string;
    path?: string;
    hostname?: string;
    href?: string;
    url?: string;
  }) =>
    list.push(
      `${req.method ?? "?"} ${req.href ?? req.url ?? `${req.hostname ?? ""}${req.path ?? ""}`}`,
    );
  nock.emitter.on("no match", on);
  return { list, stop: () => nock.emitter.removeListener("no match", on) };
}
