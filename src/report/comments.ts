import { redactSecrets } from "../util/secrets.js";
import type { GitHubClient, RepoRef } from "../integrations/github.js";
import { hasMarker, marker } from "./markers.js";
import type { ThreadComment } from "./own-comments.js";

export interface UpsertResult {
  id: number;
  url: string;
  action: "created" | "updated" | "unchanged";
}

/**
 * Creates or updates bg-agent's comment on an issue or PR, found by its hidden marker, so a
 * retried or repeated run never posts twice. `listed`: the thread's comments when the caller has
 * just read them (saves the listing).
 */
export async function upsertComment(
  octokit: GitHubClient,
  ref: RepoRef,
  issueNumber: number,
  kind: string,
  id: string | number,
  body: string,
  listed?: readonly ThreadComment[],
): Promise<UpsertResult> {
  const tag = marker(kind, id);
  const full = `${tag}\n${redactSecrets(body)}`;
  const comments: readonly ThreadComment[] =
    listed ??
    (await octokit.paginate(octokit.rest.issues.listComments, {
      ...ref,
      issue_number: issueNumber,
      per_page: 100,
    }));
  const mine = comments.find((c) => hasMarker(c.body, kind, id));
  if (mine) {
    if (mine.body === full) return { id: mine.id, url: mine.html_url, action: "unchanged" };
    const { data } = await octokit.rest.issues.updateComment({
      ...ref,
      comment_id: mine.id,
      body: full,
    });
    return { id: data.id, url: data.html_url, action: "updated" };
  }
  const { data } = await octokit.rest.issues.createComment({
    ...ref,
    issue_number: issueNumber,
    body: full,
  });
  return { id: data.id, url: data.html_url, action: "created" };
}
