import type { Db } from "./db.js";
import type { SqlQuery } from "./sql-query.js";

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
}

/** Shared with the PostgreSQL part (src/store/postgres). */
export interface Row {
  repo: string;
  pr: number;
  head_sha: string | null;
  state: string;
  first_unmet: string | null;
  conditions_json: string;
  evaluated_at: number;
}

export const toAutomergeState = (r: Row): AutomergeState => ({
  repo: r.repo,
  pr: r.pr,
  headSha: r.head_sha,
  state: r.state as AutomergeState["state"],
  firstUnmet: r.first_unmet,
  conditions: JSON.parse(r.conditions_json) as ConditionResult[],
  evaluatedAt: r.evaluated_at,
});

/** Inserts or replaces the evaluation of a pull request. */
export function saveAutomergeQuery(
  s: Omit<AutomergeState, "evaluatedAt"> & { evaluatedAt?: number },
): SqlQuery {
  return {
    sql: `INSERT INTO automerge_state (repo, pr, head_sha, state, first_unmet, conditions_json, evaluated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (repo, pr) DO UPDATE SET head_sha = excluded.head_sha, state = excluded.state,
           first_unmet = excluded.first_unmet, conditions_json = excluded.conditions_json, evaluated_at = excluded.evaluated_at`,
    params: [
      s.repo,
      s.pr,
      s.headSha,
      s.state,
      s.firstUnmet,
      JSON.stringify(s.conditions),
      s.evaluatedAt ?? Date.now(),
    ],
  };
}

export class AutomergeStateStore {
  constructor(private readonly db: Db) {}

  save(s: Omit<AutomergeState, "evaluatedAt"> & { evaluatedAt?: number }): void {
    const q = saveAutomergeQuery(s);
    this.db.prepare(q.sql).run(...q.params);
  }

  get(repo: string, pr: number): AutomergeState | undefined {
    const r = this.db
      .prepare("SELECT * FROM automerge_state WHERE repo = ? AND pr = ?")
      .get(repo, pr) as Row | undefined;
    return r ? toAutomergeState(r) : undefined;
  }

  waiting(repo?: string, limit = 200): AutomergeState[] {
    return (
      this.db
        .prepare(
          `SELECT * FROM automerge_state WHERE state IN ('waiting','queued','blocked') ${repo ? "AND repo = ?" : ""}
           ORDER BY evaluated_at DESC LIMIT ?`,
        )
        .all(...(repo ? [repo] : []), limit) as Row[]
    ).map(toAutomergeState);
  }
}
