import { removedAnything, stripHidden } from "../../context/hidden-text.js";
import { specOf } from "../../schedule/due.js";
import { describeTrigger, triggerOf } from "../../schedule/triggers.js";
import { DASHBOARD_LABEL } from "../../report/dashboard-issue.js";
import type { ProcessorContext } from "../../core/worker-contract.js";

/** What discovery shows the model of a repository: GitHub's state and bg-agent's own tasks. */
export interface RepoSnapshot {
  issues: SnapshotItem[];
  pulls: SnapshotItem[];
  /** Failing check runs on the default branch's head commit. */
  failingChecks: string[];
  /** Newest commits on the default branch: `abc1234 first line (2d ago)`. */
  commits: string[];
  /** Configured and proposed tasks: `name: trigger, status (origin)`. */
  tasks: string[];
  /** Titles, labels and commit lines that had hidden text (HTML comments, invisible characters) removed. */
  hiddenRemoved: number;
}

export interface SnapshotItem {
  number: number;
  /** Untrusted text, hidden text removed. */
  title: string;
  labels: string[];
  ageDays: number;
  updatedDays: number;
}

/** How much of each list the model sees. */
export const SNAPSHOT_LIMITS = { items: 50, commits: 15, checks: 20, titleChars: 200 } as const;

const FAILING = new Set([
  "failure",
  "timed_out",
  "cancelled",
  "action_required",
  "startup_failure",
]);

const days = (iso: string | null | undefined, now: number): number =>
  iso ? Math.max(0, Math.floor((now - Date.parse(iso)) / 86_400_000)) : 0;

/**
 * Reads what discovery needs with three GitHub requests (open issues and PRs in one listing, the
 * default branch's recent commits, the check runs on its head) plus the store's tasks. Titles and
 * commit messages are people's text: hidden text (HTML comments, invisible characters) is
 * removed and counted, and they reach the prompt only inside a block marked as data.
 */
export async function readSnapshot(ctx: ProcessorContext, now: number): Promise<RepoSnapshot> {
  const { octokit, repo } = ctx;
  let hiddenRemoved = 0;
  const clean = (s: string): string => {
    const r = stripHidden(s);
    if (removedAnything(r.removed)) hiddenRemoved++;
    return r.text.replace(/\s+/g, " ").trim().slice(0, SNAPSHOT_LIMITS.titleChars);
  };
  const signal = ctx.signal ? { request: { signal: ctx.signal } } : {};

  const { data: open } = await octokit.rest.issues.listForRepo({
    ...repo,
    state: "open",
    sort: "updated",
    direction: "desc",
    per_page: SNAPSHOT_LIMITS.items * 2,
    ...signal,
  });
  const issues: SnapshotItem[] = [];
  const pulls: SnapshotItem[] = [];
  for (const i of open) {
    const labels = i.labels
      .map((l) => (typeof l === "string" ? l : (l.name ?? "")))
      .filter(Boolean)
      .map(clean);
    // bg-agent's own dashboard is not work.
    if (labels.includes(DASHBOARD_LABEL)) continue;
    const item: SnapshotItem = {
      number: i.number,
      title: clean(i.title),
      labels,
      ageDays: days(i.created_at, now),
      updatedDays: days(i.updated_at, now),
    };
    const list = i.pull_request ? pulls : issues;
    if (list.length < SNAPSHOT_LIMITS.items) list.push(item);
  }

  const { data: commitList } = await octokit.rest.repos.listCommits({
    ...repo,
    per_page: SNAPSHOT_LIMITS.commits,
    ...signal,
  });
  const commits = commitList.map((c) => {
    const first = clean((c.commit.message ?? "").split("\n")[0] ?? "");
    return `${c.sha.slice(0, 7)} ${first} (${days(c.commit.committer?.date ?? c.commit.author?.date, now)}d ago)`;
  });

  const failingChecks: string[] = [];
  const head = commitList[0]?.sha;
  if (head) {
    const { data } = await octokit.rest.checks.listForRef({
      ...repo,
      ref: head,
      per_page: 100,
      ...signal,
    });
    for (const c of data.check_runs) {
      if (
        c.conclusion &&
        FAILING.has(c.conclusion) &&
        failingChecks.length < SNAPSHOT_LIMITS.checks
      )
        failingChecks.push(`${clean(c.name)}: ${c.conclusion}`);
    }
  }

  const tasks = (await ctx.store.schedules.list(ctx.repoName)).map((s) => {
    const spec = specOf(s);
    const trigger = spec ? describeTrigger(triggerOf(spec)) : "definition invalid";
    const prompt = spec ? ` — "${clean(spec.prompt).slice(0, 120)}"` : "";
    return `${s.name}: ${trigger}, ${s.status} (${s.origin === "config" ? "in the config" : "proposed by bg-agent"})${prompt}`;
  });

  return { issues, pulls, failingChecks, commits, tasks, hiddenRemoved };
}

const itemLine = (i: SnapshotItem): string =>
  `#${i.number} ${JSON.stringify(i.title)}${i.labels.length ? ` labels: ${i.labels.join(", ")}` : ""} · opened ${i.ageDays}d ago · updated ${i.updatedDays}d ago`;

/** The snapshot as the prompt's data block. */
export function formatSnapshot(s: RepoSnapshot): string {
  const section = (title: string, lines: string[], none: string): string =>
    `## ${title}\n${lines.length ? lines.join("\n") : none}`;
  return [
    section("Open issues", s.issues.map(itemLine), "none"),
    section("Open pull requests", s.pulls.map(itemLine), "none"),
    section("Failing checks on the default branch's head", s.failingChecks, "none"),
    section("Recent commits on the default branch", s.commits, "none"),
    section("bg-agent's current tasks (configured and proposed)", s.tasks, "none"),
  ].join("\n\n");
}
