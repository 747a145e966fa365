import type { Exec } from "./pg-exec.js";
import type { Async } from "../contract.js";
import type { Analysis, AnalysisStore, Complexity } from "../analyses.js";

interface Row {
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

const toAnalysis = (r: Row): Analysis => ({
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

export class PgAnalysisStore implements Async<AnalysisStore> {
  constructor(private readonly x: Exec) {}

  async save(a: Omit<Analysis, "analysedAt"> & { analysedAt?: number }): Promise<void> {
    await this.x.run(
      `INSERT INTO analyses AS a (key, repo, source, content_hash, should_fix, complexity, plan, affected_files, batch_id, analysed_at, comment_url)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET repo = excluded.repo, source = excluded.source, content_hash = excluded.content_hash,
         should_fix = excluded.should_fix, complexity = excluded.complexity, plan = excluded.plan,
         affected_files = excluded.affected_files, batch_id = excluded.batch_id, analysed_at = excluded.analysed_at,
         comment_url = COALESCE(excluded.comment_url, a.comment_url)`,
      [
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
    );
  }

  async setCommentUrl(key: string, url: string | null): Promise<void> {
    await this.x.run("UPDATE analyses SET comment_url = ? WHERE key = ?", [url, key]);
  }

  async get(key: string): Promise<Analysis | undefined> {
    const r = await this.x.get<Row>("SELECT * FROM analyses WHERE key = ?", [key]);
    return r ? toAnalysis(r) : undefined;
  }

  async analysedHash(key: string): Promise<string | undefined> {
    const r = await this.x.get<{ content_hash: string }>(
      "SELECT content_hash FROM analyses WHERE key = ?",
      [key],
    );
    return r?.content_hash;
  }

  async isCurrent(key: string, contentHash: string): Promise<boolean> {
    return (await this.analysedHash(key)) === contentHash;
  }

  async list(repo?: string, limit = 100): Promise<Analysis[]> {
    const rows = await this.x.all<Row>(
      `SELECT * FROM analyses ${repo ? "WHERE repo = ?" : ""} ORDER BY analysed_at DESC LIMIT ?`,
      [...(repo ? [repo] : []), limit],
    );
    return rows.map(toAnalysis);
  }
}
