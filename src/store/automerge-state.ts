import type { Db } from "./db.js";

export interface ConditionResult {
  id: string;
  met: boolean;
  detail: string;
}

export interface AutomergeState {
  repo: string;
  pr: number;
  headSha: string | null;
  state: "waiting" | "merged" | "queued" | "blocked" | "closed";
  firstUnmet: string | null;
  conditions: ConditionResult[];
  evaluatedAt: number;
  /** What the last bg-agent/automerge check run published for this PR said (any replica), or null. */
  checkSignature: string | null;
}

/** What `save` takes: a signature left out keeps the one stored. */
export type AutomergeStateInput = Omit<AutomergeState, "evaluatedAt" | "checkSignature"> & {
  evaluatedAt?: number;
  checkSignature?: string | null;
};

/** Shared with the PostgreSQL part (src/store/postgres). */
export interface Row {
  repo: string;
  pr: number;
  head_sha: string | null;
  state: string;
  first_unmet: string | null;
  conditions_json: string;
  evaluated_at: number;
  check_signature: string | null;
}

/** The upsert both engines run: a missing signature (NULL) keeps the stored one. */
export const SAVE_SQL = `INSERT INTO automerge_state (repo, pr, head_sha, state, first_unmet, conditions_json, evaluated_at, check_signature)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (repo, pr) DO UPDATE SET head_sha = excluded.head_sha, state = excluded.state,
    first_unmet = excluded.first_unmet, conditions_json = excluded.conditions_json, evaluated_at = excluded.evaluated_at,
    check_signature = COALESCE(excluded.check_signature, automerge_state.check_signature)`;

export const saveParams = (s: AutomergeStateInput): unknown[] => [
  s.repo,
  s.pr,
  s.headSha,
  s.state,
  s.firstUnmet,
  JSON.stringify(s.conditions),
  s.evaluatedAt ?? Date.now(),
  s.checkSignature ?? null,
];

export const toState = (r: Row): AutomergeState => ({
  repo: r.repo,
  pr: r.pr,
  headSha: r.head_sha,
  state: r.state as AutomergeState["state"],
  firstUnmet: r.first_unmet,
  conditions: JSON.parse(r.conditions_json) as ConditionResult[],
  evaluatedAt: r.evaluated_at,
  checkSignature: r.check_signature ?? null,
});

export class AutomergeStateStore {
  constructor(private readonly db: Db) {}

  save(s: AutomergeStateInput): void {
    this.db.prepare(SAVE_SQL).run(...saveParams(s));
  }

  get(repo: string, pr: number): AutomergeState | undefined {
    const r = this.db
      .prepare("SELECT * FROM automerge_state WHERE repo = ? AND pr = ?")
      .get(repo, pr) as Row | undefined;
    return r ? toState(r) : undefined;
  }

  waiting(repo?: string, limit = 200): AutomergeState[] {
    return (
      this.db
        .prepare(
          `SELECT * FROM automerge_state WHERE state IN ('waiting','queued','blocked') ${repo ? "AND repo = ?" : ""}
           ORDER BY evaluated_at DESC LIMIT ?`,
        )
        .all(...(repo ? [repo] : []), limit) as Row[]
    ).map(toState);
  }

  /** When bg-agent last merged into `base` of `repo` (any replica), or undefined. */
  lastMerge(repo: string, base: string): number | undefined {
    const r = this.db
      .prepare("SELECT merged_at FROM automerge_merges WHERE repo = ? AND base = ?")
      .get(repo, base) as { merged_at: number } | undefined;
    return r?.merged_at;
  }

  /** Records a merge into `base` (its PRs wait the settle window, on every replica). */
  recordMerge(repo: string, base: string, at = Date.now()): void {
    this.db
      .prepare(
        `INSERT INTO automerge_merges (repo, base, merged_at) VALUES (?, ?, ?)
         ON CONFLICT (repo, base) DO UPDATE SET merged_at = max(automerge_merges.merged_at, excluded.merged_at)`,
      )
      .run(repo, base, at);
  }
}
