import type { Db } from "./db.js";

export interface Repository {
  fullName: string;
  repoId: number | null;
  installationId: number | null;
  defaultBranch: string | null;
  installed: boolean;
  configJson: string | null;
  configHash: string | null;
  configValid: boolean;
  configErrors: string[];
  configLoadedAt: number | null;
  configReportedHash: string | null;
}

/** A repository's row without its cached config text: what intake reads per delivery. */
export type RepositoryBrief = Omit<Repository, "configJson" | "configErrors">;

/** The columns of a `RepositoryBrief` (shared with the PostgreSQL part). */
export const BRIEF_COLUMNS =
  "full_name, repo_id, installation_id, default_branch, installed, config_hash, config_valid, config_loaded_at, config_reported_hash";

/** Shared with the PostgreSQL part (src/store/postgres). */
export interface Row {
  full_name: string;
  repo_id: number | null;
  installation_id: number | null;
  default_branch: string | null;
  installed: number;
  config_json: string | null;
  config_hash: string | null;
  config_valid: number;
  config_errors: string | null;
  config_loaded_at: number | null;
  config_reported_hash: string | null;
}

export const toRepo = (r: Row): Repository => ({
  fullName: r.full_name,
  repoId: r.repo_id,
  installationId: r.installation_id,
  defaultBranch: r.default_branch,
  installed: r.installed === 1,
  configJson: r.config_json,
  configHash: r.config_hash,
  configValid: r.config_valid === 1,
  configErrors: r.config_errors ? (JSON.parse(r.config_errors) as string[]) : [],
  configLoadedAt: r.config_loaded_at,
  configReportedHash: r.config_reported_hash,
});

export const toRepositoryBrief = (
  r: Omit<Row, "config_json" | "config_errors">,
): RepositoryBrief => ({
  fullName: r.full_name,
  repoId: r.repo_id,
  installationId: r.installation_id,
  defaultBranch: r.default_branch,
  installed: r.installed === 1,
  configHash: r.config_hash,
  configValid: r.config_valid === 1,
  configLoadedAt: r.config_loaded_at,
  configReportedHash: r.config_reported_hash,
});

export class RepositoryStore {
  constructor(private readonly db: Db) {}

  upsert(
    r: {
      fullName: string;
      repoId?: number | null;
      installationId?: number | null;
      defaultBranch?: string | null;
    },
    now = Date.now(),
  ): void {
    this.db
      .prepare(
        `INSERT INTO repositories (full_name, repo_id, installation_id, default_branch, installed, added_at, updated_at)
         VALUES (?, ?, ?, ?, 1, ?, ?)
         ON CONFLICT(full_name) DO UPDATE SET
           repo_id = COALESCE(excluded.repo_id, repo_id),
           installation_id = COALESCE(excluded.installation_id, installation_id),
           default_branch = COALESCE(excluded.default_branch, default_branch),
           installed = 1, updated_at = excluded.updated_at`,
      )
      .run(
        r.fullName,
        r.repoId ?? null,
        r.installationId ?? null,
        r.defaultBranch ?? null,
        now,
        now,
      );
  }

  /** Marks repositories as no longer installed (kept for history). */
  forget(fullNames: string[], now = Date.now()): void {
    const stmt = this.db.prepare(
      "UPDATE repositories SET installed = 0, updated_at = ? WHERE full_name = ?",
    );
    for (const n of fullNames) stmt.run(now, n);
  }

  forgetInstallation(installationId: number, now = Date.now()): string[] {
    const rows = this.db
      .prepare("SELECT full_name FROM repositories WHERE installation_id = ? AND installed = 1")
      .all(installationId) as { full_name: string }[];
    this.forget(
      rows.map((r) => r.full_name),
      now,
    );
    return rows.map((r) => r.full_name);
  }

  /** The installation ids of the repositories the app is installed on (the dashboard's sign-in rule). */
  installationIds(): number[] {
    return (
      this.db
        .prepare(
          "SELECT DISTINCT installation_id AS id FROM repositories WHERE installed = 1 AND installation_id IS NOT NULL",
        )
        .all() as { id: number }[]
    ).map((r) => r.id);
  }

  get(fullName: string): Repository | undefined {
    const row = this.db.prepare("SELECT * FROM repositories WHERE full_name = ?").get(fullName) as
      Row | undefined;
    return row ? toRepo(row) : undefined;
  }

  /** `get` without the config text (no JSON to copy or parse): the per-delivery lookup. */
  brief(fullName: string): RepositoryBrief | undefined {
    const r = this.db
      .prepare(`SELECT ${BRIEF_COLUMNS} FROM repositories WHERE full_name = ?`)
      .get(fullName) as Omit<Row, "config_json" | "config_errors"> | undefined;
    return r ? toRepositoryBrief(r) : undefined;
  }

  list(opts: { installedOnly?: boolean } = {}): Repository[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM repositories ${opts.installedOnly ? "WHERE installed = 1" : ""} ORDER BY full_name`,
      )
      .all() as Row[];
    return rows.map(toRepo);
  }

  /** Caches the validated config (or its problems) for a repository. */
  setConfig(
    fullName: string,
    c: { json: string | null; hash: string; valid: boolean; errors: string[] },
    now = Date.now(),
  ): void {
    this.upsert({ fullName }, now);
    this.db
      .prepare(
        `UPDATE repositories SET config_json = ?, config_hash = ?, config_valid = ?, config_errors = ?,
         config_loaded_at = ?, updated_at = ? WHERE full_name = ?`,
      )
      .run(c.json, c.hash, c.valid ? 1 : 0, JSON.stringify(c.errors), now, now, fullName);
  }

  /** Installed repositories whose config was never loaded or was invalidated (a push changed it). */
  staleConfigRepos(): string[] {
    const rows = this.db
      .prepare(
        "SELECT full_name FROM repositories WHERE installed = 1 AND config_loaded_at IS NULL ORDER BY full_name",
      )
      .all() as { full_name: string }[];
    return rows.map((r) => r.full_name);
  }

  invalidateConfig(fullName: string): void {
    this.db
      .prepare("UPDATE repositories SET config_loaded_at = NULL WHERE full_name = ?")
      .run(fullName);
  }

  /** True the first time a given invalid config hash is reported. */
  markConfigReported(fullName: string, hash: string): boolean {
    const res = this.db
      .prepare(
        `UPDATE repositories SET config_reported_hash = ? WHERE full_name = ?
         AND (config_reported_hash IS NULL OR config_reported_hash != ?)`,
      )
      .run(hash, fullName, hash);
    return res.changes === 1;
  }
}
