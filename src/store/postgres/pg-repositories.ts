import type { Exec } from "./pg-exec.js";
import type { Row } from "../repositories.js";
import { BRIEF_COLUMNS, toRepo, toRepositoryBrief } from "../repositories.js";
import type { Async } from "../contract.js";
import type { Repository, RepositoryBrief, RepositoryStore } from "../repositories.js";

/** The key of a repository's brief in a transaction's kept reads (`Exec.kept`). */
const BRIEF = "repos.brief:";

type BriefRow = Omit<Row, "config_json" | "config_errors">;

/** A `withBriefSql` row: `T`'s columns and the brief's, all null when the repository has no row. */
export type WithBrief<T> = T & { [K in keyof BriefRow]: BriefRow[K] | null };

/**
 * A statement whose one row also carries `fullName`'s brief (its columns null when there is no
 * row): `SELECT … FROM (sql) AS s LEFT JOIN (the brief) AS b ON true`, the brief's parameter
 * last. `sql` is one row, e.g. a data-modifying CTE's outcome.
 */
export const withBriefSql = (sql: string): string =>
  `SELECT s.*, b.* FROM (${sql}) AS s LEFT JOIN (SELECT ${BRIEF_COLUMNS} FROM repositories WHERE full_name = ?) AS b ON true`;

/**
 * Keeps the brief a `withBriefSql` row carried for this transaction's `brief(fullName)` (the
 * delivery's record reads its repository's row this way, one round trip fewer a delivery).
 * Outside a transaction nothing is kept.
 */
export function keepBrief(x: Exec, fullName: string, row: WithBrief<object>): void {
  const brief = row.full_name == null ? undefined : toRepositoryBrief(row as BriefRow);
  x.kept?.set(BRIEF + fullName, { brief });
}

export class PgRepositoryStore implements Async<RepositoryStore> {
  constructor(private readonly x: Exec) {}

  /** Before any write to repositories: a kept brief would no longer be what the row says. */
  private dropKept(): void {
    const kept = this.x.kept;
    if (kept) for (const k of kept.keys()) if (k.startsWith(BRIEF)) kept.delete(k);
  }

  async upsert(r: Parameters<RepositoryStore["upsert"]>[0], now = Date.now()): Promise<void> {
    this.dropKept();
    await this.x.run(
      `INSERT INTO repositories AS t (full_name, repo_id, installation_id, default_branch, installed, added_at, updated_at)
       VALUES (?, ?, ?, ?, 1, ?, ?)
       ON CONFLICT (full_name) DO UPDATE SET
         repo_id = COALESCE(excluded.repo_id, t.repo_id),
         installation_id = COALESCE(excluded.installation_id, t.installation_id),
         default_branch = COALESCE(excluded.default_branch, t.default_branch),
         installed = 1, updated_at = excluded.updated_at`,
      [r.fullName, r.repoId ?? null, r.installationId ?? null, r.defaultBranch ?? null, now, now],
    );
  }

  async forget(fullNames: string[], now = Date.now()): Promise<void> {
    if (!fullNames.length) return;
    this.dropKept();
    await this.x.run(
      "UPDATE repositories SET installed = 0, updated_at = ? WHERE full_name = ANY(?::text[])",
      [now, fullNames],
    );
  }

  async forgetInstallation(installationId: number, now = Date.now()): Promise<string[]> {
    this.dropKept();
    const rows = await this.x.all<{ full_name: string }>(
      "UPDATE repositories SET installed = 0, updated_at = ? WHERE installation_id = ? AND installed = 1 RETURNING full_name",
      [now, installationId],
    );
    return rows.map((r) => r.full_name);
  }

  async installationIds(): Promise<number[]> {
    const rows = await this.x.all<{ id: number }>(
      "SELECT DISTINCT installation_id AS id FROM repositories WHERE installed = 1 AND installation_id IS NOT NULL",
    );
    return rows.map((r) => r.id);
  }

  async get(fullName: string): Promise<Repository | undefined> {
    const row = await this.x.get<Row>("SELECT * FROM repositories WHERE full_name = ?", [fullName]);
    return row ? toRepo(row) : undefined;
  }

  async brief(fullName: string): Promise<RepositoryBrief | undefined> {
    const kept = this.x.kept?.get(BRIEF + fullName) as
      { brief: RepositoryBrief | undefined } | undefined;
    if (kept) return kept.brief && { ...kept.brief };
    const r = await this.x.get<BriefRow>(
      `SELECT ${BRIEF_COLUMNS} FROM repositories WHERE full_name = ?`,
      [fullName],
    );
    return r ? toRepositoryBrief(r) : undefined;
  }

  async list(opts: { installedOnly?: boolean } = {}): Promise<Repository[]> {
    const rows = await this.x.all<Row>(
      `SELECT * FROM repositories ${opts.installedOnly ? "WHERE installed = 1" : ""} ORDER BY full_name`,
    );
    return rows.map(toRepo);
  }

  async setConfig(
    fullName: string,
    c: { json: string | null; hash: string; valid: boolean; errors: string[] },
    now = Date.now(),
  ): Promise<void> {
    await this.upsert({ fullName }, now);
    await this.x.run(
      `UPDATE repositories SET config_json = ?, config_hash = ?, config_valid = ?, config_errors = ?,
       config_loaded_at = ?, updated_at = ? WHERE full_name = ?`,
      [c.json, c.hash, c.valid ? 1 : 0, JSON.stringify(c.errors), now, now, fullName],
    );
  }

  async staleConfigRepos(): Promise<string[]> {
    const rows = await this.x.all<{ full_name: string }>(
      "SELECT full_name FROM repositories WHERE installed = 1 AND config_loaded_at IS NULL ORDER BY full_name",
    );
    return rows.map((r) => r.full_name);
  }

  async invalidateConfig(fullName: string): Promise<void> {
    this.dropKept();
    await this.x.run("UPDATE repositories SET config_loaded_at = NULL WHERE full_name = ?", [
      fullName,
    ]);
  }

  async markConfigReported(fullName: string, hash: string): Promise<boolean> {
    this.dropKept();
    const n = await this.x.run(
      `UPDATE repositories SET config_reported_hash = ? WHERE full_name = ?
       AND (config_reported_hash IS NULL OR config_reported_hash != ?)`,
      [hash, fullName, hash],
    );
    return n === 1;
  }
}
