import type { Db } from "./db.js";
import type { SqlQuery } from "./sql-query.js";

export type Complexity = "low" | "medium" | "high";

export interface Analysis {
  /** `owner/repo#12` or a Linear identifier such as `ENG-123`. */
  key: string;
  repo: string;
  source: "github" | "linear";
  contentHash: string;
  shouldFix: boolean;
  complexity: Complexity;
  plan: string;
  affectedFiles: string[];
  batchId: number | null;
  analysedAt: number;
  commentUrl: string | null;
}

/** Shared with the PostgreSQL part (src/store/postgres). */
export interface Row {
  key: string;
  repo: string;
  source: string;
  content_hash: string;
  should_fix: number;
  complexity: string;
  plan: string;
  affected_files: string;
  batch_id: number | null;
  analysed_at: number;
  comment_url: string | null;
}

export const toAnalysis = (r: Row): Analysis => ({
  key: r.key,
  repo: r.repo,
  source: r.source as Analysis["source"],
  contentHash: r.content_hash,
  shouldFix: r.should_fix === 1,
  complexity: r.complexity as Complexity,
  plan: r.plan,
  affectedFiles: JSON.parse(r.affected_files) as string[],
  batchId: r.batch_id,
  analysedAt: r.analysed_at,
  commentUrl: r.comment_url,
});

/** Inserts or replaces the analysis of `key`; a reported comment's url is kept unless a new one is given. */
export function saveAnalysisQuery(
  a: Omit<Analysis, "analysedAt"> & { analysedAt?: number },
): SqlQuery {
  return {
    sql: `INSERT INTO analyses AS a (key, repo, source, content_hash, should_fix, complexity, plan, affected_files, batch_id, analysed_at, comment_url)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET repo = excluded.repo, source = excluded.source, content_hash = excluded.content_hash,
           should_fix = excluded.should_fix, complexity = excluded.complexity, plan = excluded.plan,
           affected_files = excluded.affected_files, batch_id = excluded.batch_id, analysed_at = excluded.analysed_at,
           comment_url = COALESCE(excluded.comment_url, a.comment_url)`,
    params: [
      a.key,
      a.repo,
      a.source,
      a.contentHash,
      a.shouldFix ? 1 : 0,
      a.complexity,
      a.plan,
      JSON.stringify(a.affectedFiles),
      a.batchId,
      a.analysedAt ?? Date.now(),
      a.commentUrl,
    ],
  };
}

export class AnalysisStore {
  constructor(private readonly db: Db) {}

  save(a: Omit<Analysis, "analysedAt"> & { analysedAt?: number }): void {
    const q = saveAnalysisQuery(a);
    this.db.prepare(q.sql).run(...q.params);
  }

  /** Sets (or clears) where the analysis was reported; null means not reported yet. */
  setCommentUrl(key: string, url: string | null): void {
    this.db.prepare("UPDATE analyses SET comment_url = ? WHERE key = ?").run(url, key);
  }

  get(key: string): Analysis | undefined {
    const r = this.db.prepare("SELECT * FROM analyses WHERE key = ?").get(key) as Row | undefined;
    return r ? toAnalysis(r) : undefined;
  }

  /** The content hash the item was last analysed at, or undefined if it never was. */
  analysedHash(key: string): string | undefined {
    const r = this.db.prepare("SELECT content_hash FROM analyses WHERE key = ?").get(key) as
      { content_hash: string } | undefined;
    return r?.content_hash;
  }

  /** True when this exact content was analysed already. */
  isCurrent(key: string, contentHash: string): boolean {
    return this.analysedHash(key) === contentHash;
  }

  list(repo?: string, limit = 100): Analysis[] {
    return (
      this.db
        .prepare(
          `SELECT * FROM analyses ${repo ? "WHERE repo = ?" : ""} ORDER BY analysed_at DESC LIMIT ?`,
        )
        .all(...(repo ? [repo] : []), limit) as Row[]
    ).map(toAnalysis);
  }
}
