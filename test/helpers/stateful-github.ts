import nock from "nock";

/**
 * A small GitHub REST API for nock that keeps state across runs of bg-agent in one test: issues,
 * comments (with authors), labels, reactions, collaborator permissions, check runs, pull requests
 * and pinIssue. What it has no route for answers 404 and is listed in `unrouted`, so a test can
 * assert bg-agent made no call it did not expect.
 */

export const API = "https://api.github.com";
export const HEAD_SHA = "c0ffee0000000000000000000000000000000001";

export interface GhUser {
  login: string;
  type: "User" | "Bot";
}

export interface GhIssue {
  number: number;
  title: string;
  body: string;
  labels: string[];
  state: "open" | "closed";
}

export interface GhComment {
  id: number;
  issue: number;
  body: string;
  user: GhUser;
  created_at: string;
  updated_at: string;
}

export interface Req {
  method: string;
  path: string;
  body: unknown;
}

export interface StatefulGitHub {
  repo: string;
  issues: GhIssue[];
  comments: GhComment[];
  pulls: { number: number; head: string; base: string; title: string; body: string }[];
  labelsAdded: { issue: number; labels: string[] }[];
  reactions: { comment: number; content: string }[];
  /** Collaborator permissions by login (anyone else: 404, as GitHub answers for non-collaborators). */
  permissions: Map<string, string>;
  /** Files on the default branch by path (e.g. `.github/bg-agent.yml`), served raw by the contents API. */
  files: Map<string, string>;
  requests: Req[];
  unrouted: Req[];
  /** Who bg-agent's writes are authored as. */
  self: GhUser;
  /** A person's comment (e.g. a `/bg` command), created now. */
  comment(issue: number, body: string, user: GhUser, at?: Date): GhComment;
  /** bg-agent's (or another bot's) comment, as if posted earlier. */
  botComment(issue: number, body: string, user?: GhUser): GhComment;
  writes(): Req[];
  commentsOn(issue: number): GhComment[];
}

const url = (repo: string, c: GhComment) =>
  `https://github.com/${repo}/issues/${c.issue}#issuecomment-${c.id}`;

export function statefulGitHub(
  o: {
    repo?: string;
    issues?: GhIssue[];
    self?: GhUser;
    /** The methods intercepted (an unused interceptor is a pending mock); default GET, POST, PATCH. */
    methods?: ("get" | "post" | "patch" | "delete")[];
  } = {},
): StatefulGitHub {
  const repo = o.repo ?? "octo/demo";
  const base = `/repos/${repo}`;
  const gh: StatefulGitHub = {
    repo,
    issues: o.issues ?? [],
    comments: [],
    pulls: [],
    labelsAdded: [],
    reactions: [],
    permissions: new Map(),
    files: new Map(),
    requests: [],
    unrouted: [],
    self: o.self ?? { login: "github-actions[bot]", type: "Bot" },
    comment(issue, body, user, at = new Date()) {
      const c: GhComment = {
        id: nextId++,
        issue,
        body,
        user,
        created_at: at.toISOString(),
        updated_at: at.toISOString(),
      };
      gh.comments.push(c);
      return c;
    },
    botComment(issue, body, user) {
      return gh.comment(issue, body, user ?? gh.self, new Date(Date.now() - 3_600_000));
    },
    writes: () => gh.requests.filter((r) => r.method !== "GET"),
    commentsOn: (issue) => gh.comments.filter((c) => c.issue === issue),
  };
  let nextId = 5000;
  const commentJson = (c: GhComment) => ({
    id: c.id,
    body: c.body,
    user: c.user,
    created_at: c.created_at,
    updated_at: c.updated_at,
    html_url: url(repo, c),
    issue_url: `${API}${base}/issues/${c.issue}`,
  });
  const issueJson = (i: GhIssue) => ({
    number: i.number,
    node_id: `I_${i.number}`,
    title: i.title,
    body: i.body,
    state: i.state,
    html_url: `https://github.com/${repo}/issues/${i.number}`,
    labels: i.labels.map((name) => ({ name })),
    comments: gh.commentsOn(i.number).length,
  });
  const checkRuns: { id: number; name: string; head_sha: string }[] = [];

  const handle = (method: string) =>
    function (uri: string, body: unknown): [number, unknown] {
      const u = new URL(uri, API);
      const path = decodeURIComponent(u.pathname);
      const req = { method, path: path + u.search, body };
      gh.requests.push(req);
      const b = (body ?? {}) as Record<string, unknown>;
      const issue = (n: string | undefined) => gh.issues.find((i) => i.number === Number(n));
      let m: RegExpExecArray | null;
      const route = (re: string) => (m = new RegExp(`^${base}${re}$`).exec(path));

      if (method === "POST" && path === "/graphql")
        return [200, { data: { pinIssue: { issue: { number: 1 } } } }];
      if (method === "GET") {
        // Only the default branch (no ref) has files here.
        if (route("/contents/(.+)") && !u.searchParams.has("ref") && gh.files.has(m![1]!))
          return [200, gh.files.get(m![1]!)];
        if (path === base)
          return [200, { full_name: repo, default_branch: "main", node_id: "R_1" }];
        if (route("/branches/main")) return [200, { name: "main", commit: { sha: HEAD_SHA } }];
        // A runner's read of human activity: the comments below stand for it; no other events.
        if (route("/events") || route("/pulls/comments")) return [200, []];
        if (route("/issues")) {
          const labels = (u.searchParams.get("labels") ?? "").split(",").filter(Boolean);
          const state = u.searchParams.get("state") ?? "open";
          return [
            200,
            gh.issues
              .filter((i) => state === "all" || i.state === state)
              .filter((i) => labels.every((l) => i.labels.includes(l)))
              .map(issueJson),
          ];
        }
        if (route("/issues/comments")) {
          const since = Date.parse(u.searchParams.get("since") ?? "");
          return [
            200,
            gh.comments
              .filter((c) => Number.isNaN(since) || Date.parse(c.updated_at) >= since)
              .map(commentJson),
          ];
        }
        if (route("/issues/(\\d+)")) {
          const i = issue(m![1]);
          return i ? [200, issueJson(i)] : [404, { message: "Not Found" }];
        }
        if (route("/issues/(\\d+)/comments"))
          return [200, gh.commentsOn(Number(m![1])).map(commentJson)];
        if (route("/collaborators/([^/]+)/permission")) {
          const login = m![1]!;
          const p = gh.permissions.get(login);
          return p
            ? [200, { permission: p, role_name: p, user: { login, type: "User" } }]
            : [404, { message: "Not Found" }];
        }
        if (route("/commits/([0-9a-f]+)/check-runs")) {
          const runs = checkRuns.filter((c) => c.head_sha === m![1]);
          return [200, { total_count: runs.length, check_runs: runs }];
        }
        if (route("/pulls")) {
          const head = u.searchParams.get("head")?.split(":")[1];
          return [
            200,
            gh.pulls
              .filter((p) => !head || p.head === head)
              .map((p) => ({ ...p, head: { ref: p.head }, labels: [] })),
          ];
        }
      }
      if (method === "POST") {
        if (route("/issues")) {
          const i: GhIssue = {
            number: 900 + gh.issues.length,
            title: String(b.title),
            body: String(b.body ?? ""),
            labels: (b.labels as string[] | undefined) ?? [],
            state: "open",
          };
          gh.issues.push(i);
          return [201, issueJson(i)];
        }
        if (route("/issues/(\\d+)/comments")) {
          const c = gh.comment(Number(m![1]), String(b.body), gh.self);
          return [201, commentJson(c)];
        }
        if (route("/issues/comments/(\\d+)/reactions")) {
          gh.reactions.push({ comment: Number(m![1]), content: String(b.content) });
          return [201, { id: 1, content: b.content }];
        }
        if (route("/issues/(\\d+)/labels")) {
          const n = Number(m![1]);
          gh.labelsAdded.push({ issue: n, labels: b.labels as string[] });
          const i = issue(m![1]);
          for (const l of b.labels as string[]) if (i && !i.labels.includes(l)) i.labels.push(l);
          return [200, (i?.labels ?? []).map((name) => ({ name }))];
        }
        if (route("/check-runs")) {
          const c = {
            id: 7000 + checkRuns.length,
            name: String(b.name),
            head_sha: String(b.head_sha),
          };
          checkRuns.push(c);
          return [201, { ...c, html_url: `https://github.com/${repo}/runs/${c.id}` }];
        }
        if (route("/pulls")) {
          const pr = {
            number: 100 + gh.pulls.length,
            head: String(b.head),
            base: String(b.base),
            title: String(b.title),
            body: String(b.body),
          };
          gh.pulls.push(pr);
          return [
            201,
            { number: pr.number, html_url: `https://github.com/${repo}/pull/${pr.number}` },
          ];
        }
      }
      if (method === "PATCH") {
        if (route("/issues/comments/(\\d+)")) {
          const c = gh.comments.find((x) => x.id === Number(m![1]));
          if (!c) return [404, { message: "Not Found" }];
          c.body = String(b.body);
          c.updated_at = new Date().toISOString();
          return [200, commentJson(c)];
        }
        if (route("/issues/(\\d+)")) {
          const i = issue(m![1]);
          if (!i) return [404, { message: "Not Found" }];
          if (typeof b.body === "string") i.body = b.body;
          if (typeof b.title === "string") i.title = b.title;
          return [200, issueJson(i)];
        }
        if (route("/check-runs/(\\d+)")) return [200, { id: Number(m![1]) }];
      }
      if (method === "DELETE" && route("/issues/(\\d+)/labels/(.+)")) {
        const i = issue(m![1]);
        if (!i?.labels.includes(m![2]!)) return [404, { message: "Label does not exist" }];
        i.labels = i.labels.filter((l) => l !== m![2]);
        return [200, []];
      }
      gh.unrouted.push(req);
      return [404, { message: `stateful GitHub: no route for ${method} ${path}` }];
    };
  const scope = nock(API).persist();
  const methods = o.methods ?? ["get", "post", "patch"];
  if (methods.includes("get")) scope.get(/.*/).query(true).reply(handle("GET"));
  if (methods.includes("post")) scope.post(/.*/).query(true).reply(handle("POST"));
  if (methods.includes("patch")) scope.patch(/.*/).query(true).reply(handle("PATCH"));
  if (methods.includes("delete")) scope.delete(/.*/).query(true).reply(handle("DELETE"));
  return gh;
}
