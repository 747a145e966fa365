import { isBot } from "../integrations/github.js";
import { marker } from "./markers.js";

/** An issue or PR comment as `GET /repos/{owner}/{repo}/issues/{n}/comments` lists it (the parts used). */
export interface ThreadComment {
  id: number;
  body?: string | null;
  html_url: string;
  created_at?: string;
  user?: { login: string; type?: string | null } | null;
}

/** The login a runner posts as with the workflow's default token (`GITHUB_TOKEN`). */
export const ACTIONS_BOT = "github-actions[bot]";

/**
 * Whether a comment's author may be bg-agent, so that its markers and state are believed.
 * Without a known login of its own (a runner: the token may be the workflow's, an app's or a
 * PAT's) any bot account, as the standalone command scan does for reply markers; people never.
 * With one (the app: `<slug>[bot]`), that login, or `github-actions[bot]`, which is what connected
 * runners post as with the workflow's default token.
 */
export function isOwnAuthor(user: ThreadComment["user"], selfLogin?: string): boolean {
  if (!user?.login || !isBot(user)) return false;
  if (!selfLogin) return true;
  const login = user.login.toLowerCase();
  return login === selfLogin.toLowerCase() || login === ACTIONS_BOT;
}

/**
 * bg-agent's own comments with this marker, oldest first: the marker opens the body (as
 * `upsertComment` writes it) and the author passes `isOwnAuthor`. A person quoting or forging a
 * marker is not bg-agent.
 */
export function ownComments(
  comments: readonly ThreadComment[],
  kind: string,
  id: string | number | null,
  selfLogin?: string,
): ThreadComment[] {
  const prefix = id === null ? `<!-- bg-agent:${kind}:` : marker(kind, id);
  return comments.filter(
    (c) => (c.body ?? "").startsWith(prefix) && isOwnAuthor(c.user, selfLogin),
  );
}
