import picomatch from "picomatch";
import type { RepoConfig } from "../../config/schema.js";
import { formatDuration } from "../../util/duration.js";
import type { ProcessorContext } from "../../core/worker-contract.js";
import { readDetails, readPull } from "./read.js";
import type {
  CheckInfo,
  Condition,
  ConditionId,
  Evaluation,
  MergeMethod,
  PullSnapshot,
} from "./types.js";

export type AutomergeConfig = RepoConfig["automerge"];

/** Label bg-agent puts on the fix PRs it opens. */
export const FIX_LABEL = "bg:fix";
/** How soon to look again while checks run. */
export const CHECKS_RECHECK_MS = 5 * 60_000;
/** How soon to look again while GitHub computes mergeability. */
export const MERGEABLE_RECHECK_MS = 60_000;

const WRITE = new Set(["admin", "maintain", "write"]);

/** `name` in a code span, safe in a table cell. */
export const code = (s: string): string => `\`${s.replace(/[`\r\n]/g, "").slice(0, 100)}\``;

const list = (names: string[], max = 6): string =>
  names.length <= max
    ? names.map(code).join(", ")
    : `${names.slice(0, max).map(code).join(", ")} and ${names.length - max} more`;

const met = (id: ConditionId, detail: string): Condition => ({ id, met: true, detail });
const unmet = (
  id: ConditionId,
  kind: NonNullable<Condition["kind"]>,
  detail: string,
  retryInMs?: number,
): Condition => ({ id, met: false, detail, kind, ...(retryInMs ? { retryInMs } : {}) });

/** True when the check is bg-agent's own or listed in `automerge.ignore_checks` (globs allowed). */
export function isIgnoredCheck(name: string, ignore: readonly string[]): boolean {
  if (name.startsWith("bg-agent/")) return true;
  return ignore.some((p) => p === name || picomatch.isMatch(name, p));
}

/**
 * The conditions that decide whether bg-agent looks at a PR at all: enabled, open and not a draft,
 * author allowed, required label present. A PR failing one of these is not a candidate: bg-agent
 * reads nothing more and posts nothing on it.
 */
export function gateConditions(
  s: PullSnapshot,
  cfg: AutomergeConfig,
): { conditions: Condition[]; candidate: boolean } {
  const out: Condition[] = [];
  out.push(
    cfg.enabled
      ? met("enabled", "`automerge.enabled` is true")
      : unmet("enabled", "person", "`automerge.enabled` is false in .github/bg-agent.yml"),
  );
  if (s.merged) out.push(unmet("open", "blocked", "already merged"));
  else if (s.state !== "open") out.push(unmet("open", "blocked", "closed"));
  else if (s.draft) out.push(unmet("open", "person", "draft: mark it ready for review"));
  else out.push(met("open", "open, ready for review"));

  const authors = cfg.authors.map((a) => a.toLowerCase());
  const login = s.author.login;
  if (!authors.length) out.push(met("author", "any author (`automerge.authors` is empty)"));
  else if (authors.includes(login.toLowerCase()))
    out.push(met("author", `${code(login)} is on \`automerge.authors\``));
  else if (authors.includes("bots") && s.author.isBot)
    out.push(met("author", `${code(login)} is a bot (\`bots\`)`));
  else
    out.push(
      unmet(
        "author",
        "person",
        `${code(login)} is not on \`automerge.authors\` (${list(cfg.authors)})`,
      ),
    );

  const labels = s.labels.map((l) => l.toLowerCase());
  const blocking = cfg.blocking_labels.filter((b) => labels.includes(b.toLowerCase()));
  const missingRequired =
    cfg.required_label !== null && !labels.includes(cfg.required_label.toLowerCase());
  if (blocking.length) out.push(unmet("labels", "person", `blocked by label ${list(blocking)}`));
  else if (missingRequired)
    out.push(unmet("labels", "person", `needs label ${code(cfg.required_label!)}`));
  else
    out.push(
      met(
        "labels",
        cfg.required_label
          ? `has ${code(cfg.required_label)}, no blocking label`
          : "no blocking label",
      ),
    );
  const candidate = out.every((c) => c.met || (c.id === "labels" && !missingRequired));
  return { conditions: out, candidate };
}

function checkConditions(s: PullSnapshot, cfg: AutomergeConfig, now: number): Condition[] {
  const d = s.details!;
  const considered = d.checks.filter((c) => !isIgnoredCheck(c.name, cfg.ignore_checks));
  const ignored = d.checks.length - considered.length;
  const out: Condition[] = [];
  const ignoredNote = ignored ? ` (${ignored} ignored)` : "";
  if (considered.length)
    out.push(met("checks_present", `${considered.length} at head${ignoredNote}`));
  else if (cfg.allow_no_checks)
    out.push(
      met("checks_present", `none at head, allowed by \`automerge.allow_no_checks\`${ignoredNote}`),
    );
  else
    out.push(
      unmet(
        "checks_present",
        "wait",
        `no check or status at head${ignoredNote}: bg-agent does not merge untested code (\`automerge.allow_no_checks\` allows it)`,
      ),
    );

  const timeoutMs = cfg.check_timeout_hours * 3_600_000;
  // A check run and a commit status may share a name: the worse of the two counts.
  const rank = { failure: 2, pending: 1, success: 0 } as const;
  const byName = new Map<string, CheckInfo>();
  for (const c of considered) {
    const prev = byName.get(c.name);
    if (!prev || rank[c.state] > rank[prev.state]) byName.set(c.name, c);
  }
  let relevant: CheckInfo[];
  const missing: string[] = [];
  const required = d.requiredChecks?.filter((n) => !isIgnoredCheck(n, cfg.ignore_checks)) ?? null;
  if (required && required.length) {
    relevant = [];
    for (const n of required) {
      const c = byName.get(n);
      if (c) relevant.push(c);
      else missing.push(n);
    }
  } else relevant = considered;

  const failing = relevant.filter((c) => c.state === "failure");
  const pending = relevant.filter((c) => c.state === "pending");
  // A check without a start time is timed from the first check seen on this commit.
  const firstSeen = Math.min(...d.checks.map((c) => c.since ?? Infinity));
  const startOf = (c: CheckInfo): number | null =>
    c.since ?? (Number.isFinite(firstSeen) ? firstSeen : null);
  const timedOut = pending.filter((c) => {
    const start = startOf(c);
    return start !== null && now - start > timeoutMs;
  });
  const running = pending.filter((c) => !timedOut.includes(c));
  const missingTimedOut =
    missing.length > 0 && Number.isFinite(firstSeen) && now - firstSeen > timeoutMs;

  const parts: string[] = [];
  if (failing.length)
    parts.push(`failing: ${failing.map((c) => `${code(c.name)} (${c.raw})`).join(", ")}`);
  if (timedOut.length || missingTimedOut) {
    const names = [
      ...timedOut.map((c) => `${code(c.name)} (${c.raw} for ${formatDuration(now - startOf(c)!)})`),
    ];
    if (missingTimedOut) names.push(...missing.map((n) => `${code(n)} (never reported)`));
    parts.push(
      `timed out after \`automerge.check_timeout_hours\` = ${cfg.check_timeout_hours}h: ${names.join(", ")}; re-run it or push a new commit`,
    );
  }
  if (running.length)
    parts.push(`waiting for ${running.map((c) => `${code(c.name)} (${c.raw})`).join(", ")}`);
  if (missing.length && !missingTimedOut)
    parts.push(`required but not reported yet: ${list(missing)}`);

  if (!parts.length) {
    if (!relevant.length) out.push(met("checks", "nothing to wait for"));
    else {
      const optionalFailing = considered.filter(
        (c) => c.state !== "success" && !relevant.includes(c),
      );
      const note = optionalFailing.length
        ? `; not required and not passing: ${list(optionalFailing.map((c) => c.name))}`
        : "";
      out.push(
        met(
          "checks",
          required && required.length
            ? `${relevant.length} required passed (${d.requiredChecksSource})${note}`
            : `all ${relevant.length} passed (${d.requiredChecksSource})`,
        ),
      );
    }
  } else if (failing.length) out.push(unmet("checks", "person", parts.join("; ")));
  else if (timedOut.length || missingTimedOut)
    out.push(unmet("checks", "blocked", parts.join("; ")));
  else {
    // Still running: look again in a few minutes (a check event also re-queues the PR).
    // Only while a timeout can end the wait: with no time to measure from, events re-queue it.
    const retry = Number.isFinite(firstSeen) ? CHECKS_RECHECK_MS : undefined;
    out.push(unmet("checks", "wait", parts.join("; "), retry));
  }
  return out;
}

function reviewConditions(s: PullSnapshot, cfg: AutomergeConfig, isFixPr: boolean): Condition[] {
  const d = s.details!;
  const out: Condition[] = [];
  const approvals = d.reviews.filter((r) => r.state === "APPROVED");
  const counted = approvals.filter(
    (r) => !r.isBot && r.permission !== null && WRITE.has(r.permission),
  );
  const notCounted = approvals.filter((r) => !counted.includes(r));
  const notes = notCounted.map((r) =>
    r.isBot
      ? `${code(r.login)} is a bot`
      : `${code(r.login)} has no write access (${r.permission ?? "unknown"})`,
  );
  const notCountedText = notes.length ? `; not counted: ${notes.join(", ")}` : "";
  const need = cfg.required_approvals;
  const who = counted.length ? `: ${list(counted.map((r) => r.login))}` : "";
  out.push(
    counted.length >= need
      ? met("approvals", `${counted.length} of ${need} required${who}${notCountedText}`)
      : unmet(
          "approvals",
          "person",
          `${counted.length} of ${need} required approving reviews from people with write access${who}${notCountedText}`,
        ),
  );
  const changes = d.reviews.filter((r) => r.state === "CHANGES_REQUESTED");
  out.push(
    changes.length
      ? unmet(
          "changes_requested",
          "person",
          `changes requested by ${list(changes.map((r) => r.login))}`,
        )
      : met("changes_requested", "none"),
  );
  if (isFixPr) {
    if (d.mergeProposal === "approved")
      out.push(met("fix_approval", "merge proposal approved with `/bg approve`"));
    else if (counted.length)
      out.push(met("fix_approval", `approved by ${list(counted.map((r) => r.login))}`));
    else
      out.push(
        unmet(
          "fix_approval",
          "person",
          "bg-agent opened this fix: it needs an approving review from a person with write access, or `/bg approve`",
        ),
      );
  }
  return out;
}

/** Picks the merge method: the configured one if the repository allows it, else squash, merge, rebase. */
export function chooseMethod(
  configured: MergeMethod,
  allowed: Record<MergeMethod, boolean>,
): { method: MergeMethod | null; detail: string } {
  if (allowed[configured]) return { method: configured, detail: configured };
  for (const m of ["squash", "merge", "rebase"] as const) {
    if (allowed[m])
      return { method: m, detail: `${m} (${configured} is not allowed in this repository)` };
  }
  return { method: null, detail: "the repository allows no merge method" };
}

/**
 * The whole evaluation, from the snapshot alone (no network, no LLM, PR text never read).
 * Without details (a non-candidate), only the gate conditions are reported.
 */
export function evaluate(
  s: PullSnapshot,
  cfg: AutomergeConfig,
  opts: { now?: number; isFixPr?: boolean } = {},
): Evaluation {
  const now = opts.now ?? Date.now();
  const gate = gateConditions(s, cfg);
  const conditions = [...gate.conditions];
  const d = s.details;
  let method: Evaluation["method"] = { method: null, detail: "not evaluated" };
  let via: Evaluation["via"] = cfg.merge_queue ? "auto_merge" : "merge";
  if (d) {
    const sameRepo = s.headRepo !== null && s.headRepo.toLowerCase() === s.repo.toLowerCase();
    conditions.push(
      sameRepo
        ? met("same_repo", `${code(s.headRef)} is a branch of this repository`)
        : unmet(
            "same_repo",
            "blocked",
            s.headRepo === null
              ? "the fork this PR came from was deleted; bg-agent does not merge fork PRs"
              : `from the fork ${code(s.headRepo)}: bg-agent does not merge fork PRs (their branch is outside this repository's protection); a person can merge it`,
          ),
    );
    if (sameRepo) {
      conditions.push(
        d.headBranchExists
          ? met("head_branch", `${code(s.headRef)} exists`)
          : unmet("head_branch", "blocked", `${code(s.headRef)} was deleted`),
      );
    }
    conditions.push(
      d.baseBranchExists
        ? met("base_branch", `${code(s.baseRef)} exists`)
        : unmet("base_branch", "blocked", `${code(s.baseRef)} was deleted: retarget the PR`),
    );
    conditions.push(...checkConditions(s, cfg, now));
    const isFixPr = opts.isFixPr ?? (s.labels.includes("bg:fix") || d.mergeProposal !== null);
    conditions.push(...reviewConditions(s, cfg, isFixPr));
    conditions.push(
      d.unresolvedThreads
        ? unmet(
            "conversations",
            "person",
            `${d.unresolvedThreads} unresolved review conversation${d.unresolvedThreads === 1 ? "" : "s"}`,
          )
        : met("conversations", "all resolved"),
    );
    method = chooseMethod(cfg.method, d.allowedMethods);
    if (s.mergeable === null)
      conditions.push(
        unmet("mergeable", "wait", "GitHub is still computing mergeability", MERGEABLE_RECHECK_MS),
      );
    else if (!s.mergeable)
      conditions.push(unmet("mergeable", "person", `conflicts with ${code(s.baseRef)}`));
    else if (!method.method) conditions.push(unmet("mergeable", "blocked", method.detail));
    else conditions.push(met("mergeable", "no conflicts"));
    if (s.mergeableState === "behind") {
      conditions.push(
        cfg.update_branch
          ? unmet(
              "up_to_date",
              "wait",
              `behind ${code(s.baseRef)}; bg-agent updates the branch (\`automerge.update_branch\`)`,
            )
          : unmet(
              "up_to_date",
              "person",
              `behind ${code(s.baseRef)}: update the branch (or set \`automerge.update_branch: true\`)`,
            ),
      );
    } else conditions.push(met("up_to_date", "not behind"));
    via = d.mergeQueue.required ? "merge_queue" : cfg.merge_queue ? "auto_merge" : "merge";
  }
  const firstUnmet = conditions.find((c) => !c.met) ?? null;
  return {
    snapshot: s,
    conditions,
    candidate: gate.candidate,
    ready: gate.candidate && !!d && !firstUnmet,
    firstUnmet,
    method,
    via,
  };
}

/**
 * Reads a PR and evaluates it. `full`: read everything even for a non-candidate (for
 * `/bg simulate`). Null when the PR does not exist.
 */
export async function evaluatePull(
  ctx: ProcessorContext,
  number: number,
  opts: { full?: boolean; now?: number } = {},
): Promise<Evaluation | null> {
  const s = await readPull(ctx, number);
  if (!s) return null;
  const cfg = ctx.config.automerge;
  const { candidate } = gateConditions(s, cfg);
  const open = s.state === "open" && !s.merged;
  if (open && (candidate || opts.full)) s.details = await readDetails(ctx, s);
  return evaluate(s, cfg, { now: opts.now ?? Date.now() });
}
