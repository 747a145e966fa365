import type { Exec } from "./pg-exec.js";
import type { Row } from "../proposals.js";
import { proposalListQuery, toProposal } from "../proposals.js";
import type { Async } from "../contract.js";
import type { Proposal, ProposalFilter, ProposalKind, ProposalStore } from "../proposals.js";

export class PgProposalStore implements Async<ProposalStore> {
  constructor(private readonly x: Exec) {}

  async propose(p: Parameters<ProposalStore["propose"]>[0], now = Date.now()): Promise<Proposal> {
    return this.x.tx(async (x) => {
      const existing = await x.get<Row>(
        "SELECT * FROM proposals WHERE repo = ? AND kind = ? AND target = ? AND content_hash = ?",
        [p.repo, p.kind, p.target, p.contentHash],
      );
      if (existing) return toProposal(existing);
      await x.run(
        "UPDATE proposals SET status = 'expired' WHERE repo = ? AND kind = ? AND target = ? AND status = 'proposed'",
        [p.repo, p.kind, p.target],
      );
      // A replica proposing the same content at the same moment: the unique key keeps one.
      const row = await x.get<Row>(
        `INSERT INTO proposals (repo, kind, target, content_hash, status, payload, created_at)
         VALUES (?, ?, ?, ?, 'proposed', ?, ?)
         ON CONFLICT (repo, kind, target, content_hash) DO UPDATE SET repo = proposals.repo RETURNING *`,
        [p.repo, p.kind, p.target, p.contentHash, JSON.stringify(p.payload ?? {}), now],
      );
      return toProposal(row!);
    });
  }

  async get(id: number): Promise<Proposal | undefined> {
    const r = await this.x.get<Row>("SELECT * FROM proposals WHERE id = ?", [id]);
    return r ? toProposal(r) : undefined;
  }

  async latest(repo: string, target: string, kind?: ProposalKind): Promise<Proposal | undefined> {
    const r = await this.x.get<Row>(
      `SELECT * FROM proposals WHERE repo = ? AND target = ? ${kind ? "AND kind = ?" : ""} ORDER BY id DESC LIMIT 1`,
      [repo, target, ...(kind ? [kind] : [])],
    );
    return r ? toProposal(r) : undefined;
  }

  async expireStale(
    repo: string,
    kind: ProposalKind,
    target: string,
    contentHash: string,
    now = Date.now(),
  ): Promise<number> {
    return this.x.run(
      `UPDATE proposals SET status = 'expired', decided_by = 'bg-agent', decided_at = ?,
       reason = 'the content changed after the analysis'
       WHERE repo = ? AND kind = ? AND target = ? AND status = 'proposed' AND content_hash != ?`,
      [now, repo, kind, target, contentHash],
    );
  }

  async decide(
    id: number,
    status: "approved" | "rejected" | "expired",
    by: string,
    reason: string | null = null,
    now = Date.now(),
  ): Promise<boolean> {
    const n = await this.x.run(
      "UPDATE proposals SET status = ?, decided_by = ?, decided_at = ?, reason = ? WHERE id = ? AND status = 'proposed'",
      [status, by, now, reason, id],
    );
    return n === 1;
  }

  async list(filter: ProposalFilter = {}): Promise<Proposal[]> {
    const q = proposalListQuery(filter);
    return (await this.x.all<Row>(q.sql, q.params)).map(toProposal);
  }
}
