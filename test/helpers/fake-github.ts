import type { TestServer } from "./oidc.js";
import { serveRoutes } from "./oidc.js";
import { readJson } from "../../src/web/http.js";

export interface FakeIssue {
  number: number;
  node_id: string;
  title: string;
  body: string;
  labels: { name: string }[];
  html_url: string;
  state: "open";
}

/** An issue or PR comment as GET /repos/{repo}/issues/comments lists it. */
export interface FakeComment {
  id: number;
  body: string;
  html_url: string;
  issue_url: string;
  created_at: string;
  user: { login: string; type: string };
}

export interface FakeGitHub extends TestServer {
  issues: FakeIssue[];
  /** Issue and PR comments (the standalone run's `/bg` command scan reads them). */
  comments: FakeComment[];
  /** Open pull requests as GET /repos/{repo}/pulls lists them. */
  pulls: unknown[];
  /** Files on the default branch, by path. */
  files: Map<string, string>;
  requests: { method: string; path: string }[];
  writes(): { method: string; path: string }[];
}

/**
 * A small GitHub REST API on 127.0.0.1 for tests that run the Action or the CLI in another
 * process (where nock cannot reach): the repository, config files, issues, comments, the open
 * pulls list and pinIssue. Anything else answers 404, which bg-agent does not retry.
 */
export async function fakeGitHub(o: { repo?: string; token?: string } = {}): Promise<FakeGitHub> {
  const repo = o.repo ?? "octo/demo";
  const token = o.token ?? "ghs_fake";
  const issues: FakeIssue[] = [];
  const comments: FakeComment[] = [];
  const pulls: unknown[] = [];
  const files = new Map<string, string>();
  const requests: { method: string; path: string }[] = [];
  const server = await serveRoutes([
    async (req, res, url) => {
      const method = req.method ?? "GET";
      const path = decodeURIComponent(url.pathname);
      requests.push({ method, path: `${path}${url.search}` });
      const send = (status: number, body: unknown) => {
        res
          .writeHead(status, { "content-type": "application/json; charset=utf-8" })
          .end(JSON.stringify(body));
        return true;
      };
      if (
        req.headers.authorization !== `token ${token}` &&
        req.headers.authorization !== `bearer ${token}`
      ) {
        return send(401, { message: "Bad credentials" });
      }
      if (path === "/graphql") return send(200, { data: { pinIssue: { issue: { number: 1 } } } });
      const base = `/repos/${repo}`;
      if (path === base && method === "GET")
        return send(200, { full_name: repo, default_branch: "main", node_id: "R_1" });
      if (path.startsWith(`${base}/contents/`) && method === "GET") {
        const file = files.get(path.slice(`${base}/contents/`.length));
        if (file === undefined) return send(404, { message: "Not Found" });
        res
          .writeHead(200, { "content-type": "application/vnd.github.raw; charset=utf-8" })
          .end(file);
        return true;
      }
      if (/^\/repos\/[^/]+\/\.github\/contents\//.test(path))
        return send(404, { message: "Not Found" });
      if (path === `${base}/issues/comments` && method === "GET") {
        const since = Date.parse(url.searchParams.get("since") ?? "");
        return send(
          200,
          comments.filter((c) => Number.isNaN(since) || Date.parse(c.created_at) >= since),
        );
      }
      if (path === `${base}/issues` && method === "GET") {
        const labels = (url.searchParams.get("labels") ?? "").split(",").filter(Boolean);
        return send(
          200,
          issues.filter((i) => labels.every((l) => i.labels.some((x) => x.name === l))),
        );
      }
      if (path === `${base}/issues` && method === "POST") {
        const b = (await readJson(req)) as { title: string; body?: string; labels?: string[] };
        const number = issues.length + 1;
        const issue: FakeIssue = {
          number,
          node_id: `I_${number}`,
          title: b.title,
          body: b.body ?? "",
          labels: (b.labels ?? []).map((name) => ({ name })),
          html_url: `https://github.com/${repo}/issues/${number}`,
          state: "open",
        };
        issues.push(issue);
        return send(201, issue);
      }
      const m = new RegExp(`^${base}/issues/(\\d+)$`).exec(path);
      const issue = m ? issues.find((i) => i.number === Number(m[1])) : undefined;
      if (m && !issue) return send(404, { message: "Not Found" });
      if (issue && method === "GET") return send(200, issue);
      if (issue && method === "PATCH") {
        const b = (await readJson(req)) as { body?: string };
        if (b.body !== undefined) issue.body = b.body;
        return send(200, issue);
      }
      if (path === `${base}/pulls` && method === "GET") return send(200, pulls);
      return send(404, { message: `fake GitHub has no ${method} ${path}` });
    },
  ]);
  return {
    ...server,
    issues,
    comments,
    pulls,
    files,
    requests,
    writes: () => requests.filter((r) => r.method !== "GET" && r.path !== "/graphql"),
  };
}
