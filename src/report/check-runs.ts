import { redactSecrets } from "../util/secrets.js";
import type { GitHubClient, RepoRef } from "../integrations/github.js";

export type CheckConclusion =
  "success" | "failure" | "neutral" | "skipped" | "action_required" | "cancelled" | "timed_out";

/** GitHub caps a check run's summary and text at 65,535 characters. */
const cap = (raw: string, n = 65_000): string => {
  const s = redactSecrets(raw);
  return s.length > n ? `${s.slice(0, n)}\n…(truncated)` : s;
};

/**
 * Creates (or, if one of the same name exists on that SHA, updates) a completed check run.
 * Check runs are bg-agent's way of showing state on a commit: `bg-agent/automerge`,
 * `bg-agent/analysis`, `bg-agent/config`.
 */
export async function publishCheckRun(
  octokit: GitHubClient,
  ref: RepoRef,
  c: {
    name: string;
    headSha: string;
    conclusion?: CheckConclusion;
    status?: "in_progress" | "completed";
    title: string;
    summary: string;
    text?: string;
    detailsUrl?: string;
  },
): Promise<{ id: number; url: string | null }> {
  const status = c.status ?? "completed";
  const output = {
    title: cap(c.title, 250),
    summary: cap(c.summary),
    ...(c.text ? { text: cap(c.text) } : {}),
  };
  const existing = await octokit.rest.checks.listForRef({
    ...ref,
    ref: c.headSha,
    check_name: c.name,
    per_page: 1,
  });
  const found = existing.data.check_runs[0];
  const common = {
    ...ref,
    name: c.name,
    status,
    output,
    ...(status === "completed"
      ? { conclusion: c.conclusion ?? "neutral", completed_at: new Date().toISOString() }
      : {}),
    ...(c.detailsUrl ? { details_url: c.detailsUrl } : {}),
  };
  if (found) {
    const { data } = await octokit.rest.checks.update({ ...common, check_run_id: found.id });
    return { id: data.id, url: data.html_url };
  }
  const { data } = await octokit.rest.checks.create({ ...common, head_sha: c.headSha });
  return { id: data.id, url: data.html_url };
}
