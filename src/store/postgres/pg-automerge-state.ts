import type { Exec } from "./pg-exec.js";
import type { Row } from "../automerge-state.js";
import type { Async } from "../contract.js";
import type { AutomergeState, AutomergeStateStore, ConditionResult } from "../automerge-state.js";

const toState = (r: Row): AutomergeState => ({
  repo: r.repo,
  pr: r.pr,
  headSha: r.head_sha,
  state: r.state as AutomergeState["state"],
  firstUnmet: r.first_unmet,
  conditions: JSON.parse(r.conditions_json) as ConditionResult[],
  evaluatedAt: r.evaluated_at,
});

export class PgAutomergeStateStore implements Async<AutomergeStateStore> {
  constructor(private readonly x: Exec) {}

  async save(s: Omit<AutomergeState, "evaluatedAt"> & { evaluatedAt?: number }): Promise<void> {
    await this.x.run(
      `INSERT INTO automerge_state (repo, pr, head_sha, state, first_unmet, conditions_json, evaluated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (repo, pr) DO UPDATE SET head_sha = excluded.head_sha, state = excluded.state,
         first_unmet = excluded.first_unmet, conditions_json = excluded.conditions_json, evaluated_at = excluded.evaluated_at`,
      [
        s.repo,
        s.pr,
        s.headSha,
        s.state,
        s.firstUnmet,
        JSON.stringify(s.conditions),
        s.evaluatedAt ?? Date.now(),
      ],
    );
  }

  async get(repo: string, pr: number): Promise<AutomergeState | undefined> {
    const r = await this.x.get<Row>("SELECT * FROM automerge_state WHERE repo = ? AND pr = ?", [
      repo,
      pr,
    ]);
    return r ? toState(r) : undefined;
  }

  async waiting(repo?: string, limit = 200): Promise<AutomergeState[]> {
    const rows = await this.x.all<Row>(
      `SELECT * FROM automerge_state WHERE state IN ('waiting','queued','blocked') ${repo ? "AND repo = ?" : ""}
       ORDER BY evaluated_at DESC LIMIT ?`,
      [...(repo ? [repo] : []), limit],
    );
    return rows.map(toState);
  }
}
