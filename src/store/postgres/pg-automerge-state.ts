import type { Exec } from "./pg-exec.js";
import type { Row } from "../automerge-state.js";
import { SAVE_SQL, saveParams, toState } from "../automerge-state.js";
import type { Async } from "../contract.js";
import type {
  AutomergeState,
  AutomergeStateInput,
  AutomergeStateStore,
} from "../automerge-state.js";

export class PgAutomergeStateStore implements Async<AutomergeStateStore> {
  constructor(private readonly x: Exec) {}

  async save(s: AutomergeStateInput): Promise<void> {
    await this.x.run(SAVE_SQL, saveParams(s));
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

  async lastMerge(repo: string, base: string): Promise<number | undefined> {
    const r = await this.x.get<{ merged_at: number }>(
      "SELECT merged_at FROM automerge_merges WHERE repo = ? AND base = ?",
      [repo, base],
    );
    return r?.merged_at;
  }

  async recordMerge(repo: string, base: string, at = Date.now()): Promise<void> {
    await this.x.run(
      `INSERT INTO automerge_merges (repo, base, merged_at) VALUES (?, ?, ?)
       ON CONFLICT (repo, base) DO UPDATE SET merged_at = GREATEST(automerge_merges.merged_at, excluded.merged_at)`,
      [repo, base, at],
    );
  }
}
