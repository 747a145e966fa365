import type { Exec } from "./pg-exec.js";
import type { Row } from "../automerge-state.js";
import type { Async } from "../contract.js";
import type { AutomergeState, AutomergeStateStore } from "../automerge-state.js";
import { saveAutomergeQuery, toAutomergeState } from "../automerge-state.js";

export class PgAutomergeStateStore implements Async<AutomergeStateStore> {
  constructor(private readonly x: Exec) {}

  async save(s: Omit<AutomergeState, "evaluatedAt"> & { evaluatedAt?: number }): Promise<void> {
    const q = saveAutomergeQuery(s);
    await this.x.run(q.sql, q.params);
  }

  async get(repo: string, pr: number): Promise<AutomergeState | undefined> {
    const r = await this.x.get<Row>("SELECT * FROM automerge_state WHERE repo = ? AND pr = ?", [
      repo,
      pr,
    ]);
    return r ? toAutomergeState(r) : undefined;
  }

  async waiting(repo?: string, limit = 200): Promise<AutomergeState[]> {
    const rows = await this.x.all<Row>(
      `SELECT * FROM automerge_state WHERE state IN ('waiting','queued','blocked') ${repo ? "AND repo = ?" : ""}
       ORDER BY evaluated_at DESC LIMIT ?`,
      [...(repo ? [repo] : []), limit],
    );
    return rows.map(toAutomergeState);
  }
}
