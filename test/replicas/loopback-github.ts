/**
 * A GitHub for app processes the test spawns (nock cannot reach into them): a REST API on
 * 127.0.0.1 with what bg-agent's intake and its worker's tech-debt analysis use, for any number
 * of repositories under one installation: installation tokens, the repository, its default
 * branch, tree and files (`.github/bg-agent.yml` among them), issues, their comments and labels,
 * check runs. Lists it has no data for (pulls, events, comments across the repository) are empty;
 * anything else answers 404 and is listed in `unrouted`, so a test can see what it missed.
 */
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export const HEAD_SHA = "c0ffee0000000000000000000000000000000001";
export const SELF = { login: "bg-agent[bot]", type: "Bot" };

export interface LoopbackIssue {
  number: number;
  title: string;
  body: string;
  labels: string[];
}

export interface LoopbackComment {
  id: number;
  repo: string;
  issue: number;
  body: string;
  created_at: string;
  updated_at: string;
}

export interface LoopbackRequest {
  method: string;
  path: string;
}

export interface LoopbackGitHub {
  url: string;
  /** Adds a repository with these files on its default branch (e.g. `.github/bg-agent.yml`). */
  repo(fullName: string, files: Record<string, string>): void;
  issue(fullName: string, issue: LoopbackIssue): void;
  comments: LoopbackComment[];
  /** The comments carrying `marker` (e.g. `bg-agent:analysis:`) on one issue. */
  commentsWith(fullName: string, issue: number, marker: string): LoopbackComment[];
  requests: LoopbackRequest[];
  unrouted: LoopbackRequest[];
  close(): Promise<void>;
}

interface Repo {
  files: Map<string, string>;
  issues: Map<number, LoopbackIssue>;
  checkRuns: { id: number; name: string; head_sha: string }[];
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res
    .writeHead(status, { "content-type": "application/json; charset=utf-8" })
    .end(JSON.stringify(body));
};

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

export async function loopbackGitHub(): Promise<LoopbackGitHub> {
  const repos = new Map<string, Repo>();
  const comments: LoopbackComment[] = [];
  const requests: LoopbackRequest[] = [];
  const unrouted: LoopbackRequest[] = [];
  let nextId = 5000;
  let base = "";

  const issueJson = (name: string, i: LoopbackIssue) => ({
    number: i.number,
    node_id: `I_${i.number}`,
    title: i.title,
    body: i.body,
    state: "open",
    html_url: `https://github.com/${name}/issues/${i.number}`,
    labels: i.labels.map((l) => ({ name: l })),
    comments: comments.filter((c) => c.repo === name && c.issue === i.number).length,
    user: { login: "dev", type: "User" },
  });
  const commentJson = (c: LoopbackComment) => ({
    id: c.id,
    body: c.body,
    user: SELF,
    created_at: c.created_at,
    updated_at: c.updated_at,
    html_url: `https://github.com/${c.repo}/issues/${c.issue}#issuecomment-${c.id}`,
    issue_url: `${base}/repos/${c.repo}/issues/${c.issue}`,
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? "GET";
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const path = decodeURIComponent(url.pathname);
    const seen = { method, path: `${path}${url.search}` };
    requests.push(seen);
    const body = method === "GET" ? {} : await readJson(req);

    if (method === "POST" && /^\/app\/installations\/\d+\/access_tokens$/.test(path)) {
      return json(res, 201, {
        token: "ghs_replicas",
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
        permissions: { issues: "write", checks: "write", contents: "read" },
        repository_selection: "all",
      });
    }
    if (method === "GET" && path === "/app") return json(res, 200, { slug: "bg-agent", id: 1 });

    const m = /^\/repos\/([^/]+\/[^/]+)(\/.*)?$/.exec(path);
    const name = m?.[1] ?? "";
    const repo = repos.get(name);
    const rest = m?.[2] ?? "";
    if (m && !repo) return json(res, 404, { message: "Not Found" });
    if (repo) {
      let r: RegExpExecArray | null;
      if (method === "GET") {
        if (rest === "")
          return json(res, 200, {
            id: 1,
            full_name: name,
            name: name.split("/")[1],
            default_branch: "main",
            node_id: "R_1",
          });
        if (rest === "/installation") return json(res, 200, { id: 1 });
        if (rest === "/branches/main")
          return json(res, 200, { name: "main", commit: { sha: HEAD_SHA } });
        if ((r = /^\/git\/trees\/([0-9a-f]+)$/.exec(rest)))
          return json(res, 200, {
            sha: r[1],
            truncated: false,
            tree: [...repo.files].map(([p, text], i) => ({
              path: p,
              type: "blob",
              size: text.length,
              sha: String(i + 1).padStart(40, "0"),
            })),
          });
        if ((r = /^\/contents\/(.+)$/.exec(rest))) {
          const text = repo.files.get(r[1]!);
          if (text === undefined) return json(res, 404, { message: "Not Found" });
          if ((req.headers.accept ?? "").includes("raw")) {
            res
              .writeHead(200, { "content-type": "application/vnd.github.raw; charset=utf-8" })
              .end(text);
            return;
          }
          return json(res, 200, {
            type: "file",
            path: r[1],
            encoding: "base64",
            content: Buffer.from(text).toString("base64"),
          });
        }
        if (rest === "/issues") {
          const labels = (url.searchParams.get("labels") ?? "").split(",").filter(Boolean);
          return json(
            res,
            200,
            [...repo.issues.values()]
              .filter((i) => labels.every((l) => i.labels.includes(l)))
              .map((i) => issueJson(name, i)),
          );
        }
        if ((r = /^\/issues\/(\d+)$/.exec(rest))) {
          const i = repo.issues.get(Number(r[1]));
          return i ? json(res, 200, issueJson(name, i)) : json(res, 404, { message: "Not Found" });
        }
        if ((r = /^\/issues\/(\d+)\/comments$/.exec(rest)))
          return json(
            res,
            200,
            comments.filter((c) => c.repo === name && c.issue === Number(r![1])).map(commentJson),
          );
        if ((r = /^\/commits\/([0-9a-f]+)\/check-runs$/.exec(rest))) {
          const want = url.searchParams.get("check_name");
          const runs = repo.checkRuns.filter(
            (c) => c.head_sha === r![1] && (!want || c.name === want),
          );
          return json(res, 200, { total_count: runs.length, check_runs: runs });
        }
        if (["/pulls", "/events", "/issues/comments", "/pulls/comments"].includes(rest))
          return json(res, 200, []);
      }
      if (method === "POST") {
        if ((r = /^\/issues\/(\d+)\/comments$/.exec(rest))) {
          const now = new Date().toISOString();
          const c: LoopbackComment = {
            id: nextId++,
            repo: name,
            issue: Number(r[1]),
            body: String(body.body),
            created_at: now,
            updated_at: now,
          };
          comments.push(c);
          return json(res, 201, commentJson(c));
        }
        if ((r = /^\/issues\/(\d+)\/labels$/.exec(rest))) {
          const i = repo.issues.get(Number(r[1]));
          for (const l of body.labels as string[]) if (i && !i.labels.includes(l)) i.labels.push(l);
          return json(
            res,
            200,
            (i?.labels ?? []).map((l) => ({ name: l })),
          );
        }
        if (rest === "/check-runs") {
          const c = { id: nextId++, name: String(body.name), head_sha: String(body.head_sha) };
          repo.checkRuns.push(c);
          return json(res, 201, { ...c, html_url: `https://github.com/${name}/runs/${c.id}` });
        }
      }
      if (method === "PATCH") {
        if ((r = /^\/issues\/comments\/(\d+)$/.exec(rest))) {
          const c = comments.find((x) => x.repo === name && x.id === Number(r![1]));
          if (!c) return json(res, 404, { message: "Not Found" });
          c.body = String(body.body);
          c.updated_at = new Date().toISOString();
          return json(res, 200, commentJson(c));
        }
        if ((r = /^\/check-runs\/(\d+)$/.exec(rest)))
          return json(res, 200, {
            id: Number(r[1]),
            html_url: `https://github.com/${name}/runs/${r[1]}`,
          });
      }
      if (method === "DELETE" && (r = /^\/issues\/(\d+)\/labels\/(.+)$/.exec(rest))) {
        const i = repo.issues.get(Number(r[1]));
        if (!i?.labels.includes(r[2]!)) return json(res, 404, { message: "Label does not exist" });
        i.labels = i.labels.filter((l) => l !== r![2]);
        return json(res, 200, []);
      }
    }
    unrouted.push(seen);
    json(res, 404, { message: `loopback GitHub: no route for ${method} ${path}` });
  };

  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) json(res, 500, { message: String(e) });
      else res.end();
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: base,
    repo(fullName, files) {
      repos.set(fullName, {
        files: new Map(Object.entries(files)),
        issues: new Map(),
        checkRuns: [],
      });
    },
    issue(fullName, issue) {
      const repo = repos.get(fullName);
      if (!repo) throw new Error(`loopback GitHub: add the repository ${fullName} first`);
      repo.issues.set(issue.number, { ...issue, labels: [...issue.labels] });
    },
    comments,
    commentsWith: (fullName, issue, marker) =>
      comments.filter((c) => c.repo === fullName && c.issue === issue && c.body.includes(marker)),
    requests,
    unrouted,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
