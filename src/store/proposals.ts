import type { Db } from "./db.js";
import type { SqlQuery } from "./sql-query.js";
import { whereSet } from "./sql-query.js";

export type ProposalKind = "fix" | "task" | "merge";
export type ProposalStatus = "proposed" | "approved" | "rejected" | "expired";

export interface Proposal {
  id: number;
  repo: string;
  kind: ProposalKind;
  /** `issue:12`, `pr:5`, `linear:ENG-1`, `task:name`. */
  target: string;
  contentHash: string;
  status: ProposalStatus;
  payload: Record<string, unknown>;
  decidedBy: string | null;
  decidedAt: number | null;
  reason: string | null;
  createdAt: number;
}

/** Shared with the PostgreSQL part (src/store/postgres). */
export interface Row {
  id: number;
  repo: string;
  kind: string;
  target: string;
  content_hash: string;
  status: string;
  payload: string;
  decided_by: string | null;
  decided_at: number | null;
  reason: string | null;
  created_at: number;
}

export const toProposal = (r: Row): Proposal => ({
  id: r.id,
  repo: r.repo,
  kind: r.kind as ProposalKind,
  target: r.target,
  contentHash: r.content_hash,
  status: r.status as ProposalStatus,
  payload: JSON.parse(r.payload) as Record<string, unknown>,
  decidedBy: r.decided_by,
  decidedAt: r.decided_at,
  reason: r.reason,
  createdAt: r.created_at,
});

export interface ProposalFilter {
  repo?: string;
  status?: ProposalStatus;
  kind?: ProposalKind;
}

/** The newest 500 proposals matching the filter. */
export function proposalListQuery(filter: ProposalFilter): SqlQuery {
  const w = whereSet([
    ["repo = ?", filter.repo],
    ["status = ?", filter.status],
    ["kind = ?", filter.kind],
  ]);
  return { sql: `SELECT * FROM proposals ${w.sql} ORDER BY id DESC LIMIT 500`, params: w.params };
}

export class ProposalStore {
  constructor(private readonly db: Db) {}

  /**
   * Proposes something for a target. The same content rejected before is not proposed again
   * (returns the rejected one); a new content hash expires older open proposals of that target.
   */
  propose(
    p: {
      repo: string;
      kind: ProposalKind;
      target: string;
      contentHash: string;
      payload?: Record<string, unknown>;
    },
    now = Date.now(),
  ): Proposal {
    return this.db.transaction(() => {
      const existing = this.db
        .prepare(
          "SELECT * FROM proposals WHERE repo = ? AND kind = ? AND target = ? AND content_hash = ?",
        )
        .get(p.repo, p.kind, p.target, p.contentHash) as Row | undefined;
      if (existing) return toProposal(existing);
      this.db
        .prepare(
          `UPDATE proposals SET status = 'expired' WHERE repo = ? AND kind = ? AND target = ? AND status = 'proposed'`,
        )
        .run(p.repo, p.kind, p.target);
      const res = this.db
        .prepare(
          `INSERT INTO proposals (repo, kind, target, content_hash, status, payload, created_at)
           VALUES (?, ?, ?, ?, 'proposed', ?, ?)`,
        )
        .run(p.repo, p.kind, p.target, p.contentHash, JSON.stringify(p.payload ?? {}), now);
      return this.get(Number(res.lastInsertRowid))!;
    })();
  }

  get(id: number): Proposal | undefined {
    const r = this.db.prepare("SELECT * FROM proposals WHERE id = ?").get(id) as Row | undefined;
    return r ? toProposal(r) : undefined;
  }

  /** The newest proposal for a target (any kind unless given). */
  latest(repo: string, target: string, kind?: ProposalKind): Proposal | undefined {
    const r = this.db
      .prepare(
        `SELECT * FROM proposals WHERE repo = ? AND target = ? ${kind ? "AND kind = ?" : ""} ORDER BY id DESC LIMIT 1`,
      )
      .get(repo, target, ...(kind ? [kind] : [])) as Row | undefined;
    return r ? toProposal(r) : undefined;
  }

  /**
   * Expires the open proposals of a target made for other content than `contentHash` (the issue
   * was edited since): nobody can approve a plan for text that no longer stands. Returns how many.
   */
  expireStale(
    repo: string,
    kind: ProposalKind,
    target: string,
    contentHash: string,
    now = Date.now(),
  ): number {
    return this.db
      .prepare(
        `UPDATE proposals SET status = 'expired', decided_by = 'bg-agent', decided_at = ?,
         reason = 'the content changed after the analysis'
         WHERE repo = ? AND kind = ? AND target = ? AND status = 'proposed' AND content_hash != ?`,
      )
      .run(now, repo, kind, target, contentHash).changes;
  }

  decide(
    id: number,
    status: "approved" | "rejected" | "expired",
    by: string,
    reason: string | null = null,
    now = Date.now(),
  ): boolean {
    return (
      this.db
        .prepare(
          "UPDATE proposals SET status = ?, decided_by = ?, decided_at = ?, reason = ? WHERE id = ? AND status = 'proposed'",
        )
        .run(status, by, now, reason, id).changes === 1
    );
  }

  list(filter: ProposalFilter = {}): Proposal[] {
    const q = proposalListQuery(filter);
    return (this.db.prepare(q.sql).all(...q.params) as Row[]).map(toProposal);
  }
}
