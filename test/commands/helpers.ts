import { readFileSync } from "node:fs";
import nock from "nock";
import type { IntakeDeps, WebhookEvent } from "../../src/intake/types.js";
import { silentLogger } from "../../src/log.js";
import type { Store } from "../../src/store/index.js";

/** The repository of the real `issue_comment` examples (@octokit/webhooks-examples). */
export const REPO = "Codertocat/Hello-World";
export const API = "https://api.github.com";
export const COMMENT_ID = 492700400;

type Json = Record<string, unknown>;
const fixture = (name: string): Json =>
  JSON.parse(readFileSync(new URL(`../fixtures/${name}.json`, import.meta.url), "utf8")) as Json;

export interface CommentEventOptions {
  body: string;
  action?: "created" | "edited" | "deleted";
  login?: string;
  userType?: "User" | "Bot";
  /** The comment is on a pull request. */
  pr?: boolean;
  issue?: number;
  commentId?: number;
  delivery?: string;
  /** Another repository than the examples' (e.g. the automerge fixtures' `octo/demo`). */
  repo?: string;
}

/** A real `issue_comment` payload (from the webhook examples) with the given body, author and thread. */
export function commentEvent(o: CommentEventOptions): WebhookEvent {
  const payload = fixture(`issue_comment.${o.action ?? "created"}`);
  const comment = payload["comment"] as Json;
  const issue = payload["issue"] as Json;
  const number = o.issue ?? 1;
  const id = o.commentId ?? COMMENT_ID;
  const repo = o.repo ?? REPO;
  if (o.repo) {
    const r = payload["repository"] as Json;
    r["full_name"] = o.repo;
    r["name"] = o.repo.split("/")[1];
    r["owner"] = { ...(r["owner"] as Json), login: o.repo.split("/")[0] };
  }
  comment["body"] = o.body;
  comment["id"] = id;
  const kind = o.pr ? "pull" : "issues";
  comment["html_url"] = `https://github.com/${repo}/${kind}/${number}#issuecomment-${id}`;
  comment["user"] = {
    ...(comment["user"] as Json),
    login: o.login ?? "Codertocat",
    type: o.userType ?? "User",
  };
  issue["number"] = number;
  if (o.pr) {
    issue["pull_request"] = {
      url: `${API}/repos/${repo}/pulls/${number}`,
      html_url: `https://github.com/${repo}/pull/${number}`,
      diff_url: `https://github.com/${repo}/pull/${number}.diff`,
      patch_url: `https://github.com/${repo}/pull/${number}.patch`,
      merged_at: null,
    };
  }
  return {
    id: o.delivery ?? "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    name: "issue_comment",
    payload,
  };
}

export function intakeDeps(
  store: Store,
  o: { selfLogin?: string; wake?: () => void } = {},
): IntakeDeps {
  return {
    store,
    log: silentLogger,
    loadConfig: () => Promise.reject(new Error("intake must not need the config")),
    ...(o.wake ? { wake: o.wake } : {}),
    ...(o.selfLogin ? { selfLogin: o.selfLogin } : {}),
  };
}

export interface GitHubMock {
  /** Bodies of the comments bg-agent posted or updated. */
  replies: string[];
  reactions: string[];
}

/**
 * nock for one command comment: the 👀 reaction, the permission lookup (when given), and the
 * reply (found by marker among `existing` comments, else created).
 */
export function mockGitHub(o: {
  issue?: number;
  commentId?: number;
  user?: string;
  /** The permission answer, an HTTP error status, or undefined when no lookup is expected. */
  permission?: { permission: string; role_name?: string } | number;
  /** Comments already on the thread (for the reply upsert). */
  existing?: { id: number; body: string }[];
  /** Fail the reply with this status once. */
  replyStatus?: number;
  reaction?: boolean;
  reply?: boolean;
  repo?: string;
}): GitHubMock {
  const repo = o.repo ?? REPO;
  const issue = o.issue ?? 1;
  const commentId = o.commentId ?? COMMENT_ID;
  const user = o.user ?? "Codertocat";
  const out: GitHubMock = { replies: [], reactions: [] };
  const gh = nock(API);
  if (o.reaction !== false) {
    gh.post(`/repos/${repo}/issues/comments/${commentId}/reactions`).reply(201, (_uri, body) => {
      out.reactions.push((body as { content: string }).content);
      return { id: 1, content: (body as { content: string }).content };
    });
  }
  if (typeof o.permission === "number") {
    gh.get(`/repos/${repo}/collaborators/${user}/permission`).reply(o.permission, {
      message: "Server Error",
    });
  } else if (o.permission) {
    gh.get(`/repos/${repo}/collaborators/${user}/permission`).reply(200, {
      ...o.permission,
      user: { login: user, type: "User" },
    });
  }
  if (o.reply !== false) {
    gh.get(`/repos/${repo}/issues/${issue}/comments`)
      .query(true)
      .reply(
        200,
        (o.existing ?? []).map((c) => ({
          ...c,
          html_url: `https://github.com/${repo}/issues/${issue}#issuecomment-${c.id}`,
        })),
      );
    const existing = (o.existing ?? []).find((c) =>
      c.body.includes(`<!-- bg-agent:reply:${commentId} -->`),
    );
    if (o.replyStatus) {
      gh.post(`/repos/${repo}/issues/${issue}/comments`).reply(o.replyStatus, {
        message: "Server Error",
      });
    } else if (existing) {
      gh.patch(`/repos/${repo}/issues/comments/${existing.id}`).reply(200, (_uri, body) => {
        out.replies.push((body as { body: string }).body);
        return {
          id: existing.id,
          html_url: `https://github.com/${repo}/issues/${issue}#issuecomment-${existing.id}`,
        };
      });
    } else {
      gh.post(`/repos/${repo}/issues/${issue}/comments`).reply(201, (_uri, body) => {
        out.replies.push((body as { body: string }).body);
        return {
          id: 9000,
          html_url: `https://github.com/${repo}/issues/${issue}#issuecomment-9000`,
        };
      });
    }
  }
  return out;
}

export const WRITER = { permission: "write", role_name: "write" };
export const READER = { permission: "read", role_name: "read" };
