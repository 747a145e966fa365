import type { Exec } from "./pg-exec.js";
import type { Row } from "../analyses.js";
import { saveAnalysisQuery, toAnalysis } from "../analyses.js";
import type { Async } from "../contract.js";
import type { Analysis, AnalysisStore } from "../analyses.js";

export class PgAnalysisStore implements Async<AnalysisStore> {
  constructor(private readonly x: Exec) {}

  async save(a: Omit<Analysis, "analysedAt"> & { analysedAt?: number }): Promise<void> {
    const q = saveAnalysisQuery(a);
    await this.x.run(q.sql, q.params);
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
