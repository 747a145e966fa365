import type { Exec } from "./pg-exec.js";
import type { Async } from "../contract.js";
import type { EnqueueInput, EnqueueResult, TaskMatch, TaskStore } from "../tasks.js";
import type { TaskRow } from "../tasks.js";
import { dedupKeyOf, toTask } from "../tasks.js";
import type { Task, TaskStatus, TaskType } from "../../core/domain.js";
import { PRIORITY } from "../../core/task-kinds.js";

function matchClause(where: TaskMatch): { sql: string; params: unknown[] } {
  const clauses = ["repo = ?"];
  const params: unknown[] = [where.repo];
  if (where.type) {
    clauses.push("type = ?");
    params.push(where.type);
  }
  if (where.source) {
    clauses.push("source = ?");
    params.push(where.source);
  }
  return { sql: clauses.join(" AND "), params };
}

const OPEN = "status IN ('pending','running')";

/** The PostgreSQL TaskStore: the SQLite bodies in src/store/tasks.ts are the reference. */
export class PgTaskStore implements Async<TaskStore> {
  constructor(private readonly x: Exec) {}

  async get(id: number): Promise<Task | undefined> {
    const row = await this.x.get<TaskRow>("SELECT * FROM tasks WHERE id = ?", [id]);
    return row ? toTask(row) : undefined;
  }

  async open(repo: string, type: TaskType, source: string): Promise<Task | undefined> {
    const row = await this.x.get<TaskRow>(`SELECT * FROM tasks WHERE dedup_key = ? AND ${OPEN}`, [
      dedupKeyOf(repo, type, source),
    ]);
    return row ? toTask(row) : undefined;
  }

  /**
   * One open task per (repo, type, source), with SQLite's merge rules. Optimistic and safe across
   * replicas without a transaction: the insert is tried first (one round trip for a new task); a
   * conflict with the open-dedup unique index reads the open task and refreshes or parks it, each
   * step guarded by the status it read, and starts over if another writer changed it meanwhile.
   */
  async enqueue(input: EnqueueInput, now = Date.now()): Promise<EnqueueResult> {
    const key = dedupKeyOf(input.repo, input.type, input.source);
    const payload = JSON.stringify(input.payload ?? {});
    const hash = input.contentHash ?? null;
    const runAt = input.runAt ?? now;
    const priority = input.priority ?? PRIORITY[input.type];
    for (let attempt = 0; ; attempt++) {
      const row = await this.x.get<TaskRow>(
        `INSERT INTO tasks (repo, type, source, dedup_key, status, priority, payload, content_hash,
          max_attempts, next_run_at, delivery_id, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (dedup_key) WHERE ${OPEN} DO NOTHING RETURNING *`,
        [
          input.repo,
          input.type,
          input.source,
          key,
          priority,
          payload,
          hash,
          input.maxAttempts ?? 3,
          runAt,
          input.deliveryId ?? null,
          now,
          now,
        ],
      );
      if (row) return { outcome: "created", task: toTask(row) };
      if (attempt > 20) throw new Error(`enqueue of ${key}: the open task kept changing`);
      const existing = await this.x.get<Pick<TaskRow, "id" | "status" | "content_hash">>(
        `SELECT id, status, content_hash FROM tasks WHERE dedup_key = ? AND ${OPEN}`,
        [key],
      );
      if (!existing) continue; // finished in between: insert again
      if (hash !== null && existing.content_hash === hash) {
        return this.outcome("unchanged", existing.id);
      }
      if (existing.status === "pending") {
        const n = await this.x.run(
          `UPDATE tasks SET payload = ?, content_hash = ?, next_run_at = LEAST(next_run_at, ?),
           priority = GREATEST(priority, ?), updated_at = ? WHERE id = ? AND status = 'pending'`,
          [payload, hash, runAt, priority, now, existing.id],
        );
        if (n === 1) return this.outcome("merged", existing.id);
        continue; // claimed in between
      }
      // Running: park its key so a follow-up can be queued behind it.
      await this.x.run(
        "UPDATE tasks SET dedup_key = dedup_key || '#' || id WHERE id = ? AND status = 'running' AND dedup_key = ?",
        [existing.id, key],
      );
    }
  }

  private outcome(outcome: "merged" | "unchanged", id: number): Promise<EnqueueResult> {
    return this.get(id).then((task) => ({ outcome, task: task! }));
  }

  async latestBySource(repo: string, type: TaskType, source: string): Promise<Task | undefined> {
    const row = await this.x.get<TaskRow>(
      "SELECT * FROM tasks WHERE repo = ? AND type = ? AND source = ? ORDER BY id DESC LIMIT 1",
      [repo, type, source],
    );
    return row ? toTask(row) : undefined;
  }

  async cancel(where: TaskMatch, reason: string, now = Date.now()): Promise<number> {
    const m = matchClause(where);
    return this.x.run(
      `UPDATE tasks SET status = 'cancelled', last_error = ?, lease_owner = NULL,
       lease_expires_at = NULL, dedup_key = dedup_key || '#' || id, updated_at = ?
       WHERE ${OPEN} AND ${m.sql}`,
      [reason, now, ...m.params],
    );
  }

  async cancelPending(where: TaskMatch, reason: string, now = Date.now()): Promise<number> {
    const m = matchClause(where);
    return this.x.run(
      `UPDATE tasks SET status = 'cancelled', last_error = ?, dedup_key = dedup_key || '#' || id, updated_at = ?
       WHERE status = 'pending' AND ${m.sql}`,
      [reason, now, ...m.params],
    );
  }

  /**
   * Claims up to `limit` due tasks in one statement: the due pending tasks (by the tasks_due
   * index) and the running ones whose lease expired are each selected FOR UPDATE SKIP LOCKED,
   * so concurrent claimers on any replica never take the same task and never wait for each other.
   */
  async claim(opts: Parameters<TaskStore["claim"]>[0]): Promise<Task[]> {
    const now = opts.now ?? Date.now();
    const clauses: string[] = [];
    const params: unknown[] = [];
    if (opts.repo) {
      clauses.push("repo = ?");
      params.push(opts.repo);
    }
    if (opts.repos) {
      clauses.push("repo = ANY(?::text[])");
      params.push(opts.repos);
    }
    if (opts.types) {
      clauses.push("type = ANY(?::text[])");
      params.push(opts.types);
    }
    if (opts.minPriority !== undefined) {
      clauses.push("priority >= ?");
      params.push(opts.minPriority);
    }
    const extra = clauses.map((c) => ` AND ${c}`).join("");
    const order = "ORDER BY priority DESC, next_run_at, id";
    const rows = await this.x.all<TaskRow>(
      `WITH p AS (SELECT id, priority, next_run_at FROM tasks
                  WHERE status = 'pending' AND next_run_at <= ?${extra} ${order} LIMIT ? FOR UPDATE SKIP LOCKED),
            r AS (SELECT id, priority, next_run_at FROM tasks
                  WHERE status = 'running' AND lease_expires_at <= ?${extra} ${order} LIMIT ? FOR UPDATE SKIP LOCKED),
            picked AS (SELECT id FROM (SELECT * FROM p UNION ALL SELECT * FROM r) u ${order} LIMIT ?)
       UPDATE tasks t SET status = 'running', lease_owner = ?, lease_expires_at = ?,
         attempts = t.attempts + 1, updated_at = ?
       FROM picked WHERE t.id = picked.id RETURNING t.*`,
      [
        now,
        ...params,
        opts.limit,
        now,
        ...params,
        opts.limit,
        opts.limit,
        opts.owner,
        now + opts.leaseMs,
        now,
      ],
    );
    return rows
      .map(toTask)
      .sort((a, b) => b.priority - a.priority || a.nextRunAt - b.nextRunAt || a.id - b.id);
  }

  async heartbeat(
    ids: number[],
    owner: string,
    leaseMs: number,
    now = Date.now(),
  ): Promise<number> {
    if (!ids.length) return 0;
    return this.x.run(
      "UPDATE tasks SET lease_expires_at = ?, updated_at = ? WHERE id = ANY(?::bigint[]) AND status = 'running' AND lease_owner = ?",
      [now + leaseMs, now, ids, owner],
    );
  }

  async complete(
    id: number,
    owner: string | null,
    result: unknown,
    now = Date.now(),
  ): Promise<boolean> {
    const n = await this.x.run(
      `UPDATE tasks SET status = 'done', result = ?, lease_owner = NULL, lease_expires_at = NULL,
       dedup_key = dedup_key || '#' || id, updated_at = ?
       WHERE id = ? AND status = 'running' AND (?::text IS NULL OR lease_owner = ?)`,
      [JSON.stringify(result ?? null), now, id, owner, owner],
    );
    return n === 1;
  }

  /** Completes many tasks of one owner in one round trip (the benchmark's worker). */
  async completeMany(
    ids: number[],
    owner: string,
    result: unknown,
    now = Date.now(),
  ): Promise<number> {
    if (!ids.length) return 0;
    return this.x.run(
      `UPDATE tasks SET status = 'done', result = ?, lease_owner = NULL, lease_expires_at = NULL,
       dedup_key = dedup_key || '#' || id, updated_at = ?
       WHERE id = ANY(?::bigint[]) AND status = 'running' AND lease_owner = ?`,
      [JSON.stringify(result ?? null), now, ids, owner],
    );
  }

  /** SQLite's reading of the task and its update, as one statement guarded by the status read. */
  async fail(
    id: number,
    owner: string | null,
    error: string,
    opts: { retryAt?: number; permanent?: boolean } = {},
    now = Date.now(),
  ): Promise<TaskStatus | undefined> {
    return this.x.tx(async (x) => {
      const row = await x.get<TaskRow>("SELECT * FROM tasks WHERE id = ? FOR UPDATE", [id]);
      if (!row) return undefined;
      const task = toTask(row);
      if (task.status !== "running") return task.status;
      if (owner !== null && task.leaseOwner !== owner) return task.status;
      let status: TaskStatus;
      let next = task.nextRunAt;
      let attempts = task.attempts;
      if (opts.retryAt !== undefined) {
        status = "pending";
        next = opts.retryAt;
        attempts = Math.max(0, attempts - 1);
      } else if (opts.permanent || task.attempts >= task.maxAttempts) {
        status = "failed";
      } else {
        status = "pending";
        next = now + Math.min(60 * 60_000, 30_000 * 2 ** (task.attempts - 1));
      }
      await x.run(
        `UPDATE tasks SET status = ?, next_run_at = ?, attempts = ?, last_error = ?, lease_owner = NULL,
         lease_expires_at = NULL, updated_at = ?,
         dedup_key = CASE WHEN ?::text = 'failed' THEN dedup_key || '#' || id ELSE dedup_key END
         WHERE id = ?`,
        [status, next, attempts, error.slice(0, 4000), now, status, id],
      );
      return status;
    });
  }

  async wake(ids: number[], now = Date.now()): Promise<void> {
    if (!ids.length) return;
    await this.x.run(
      "UPDATE tasks SET next_run_at = LEAST(next_run_at, ?), updated_at = ? WHERE id = ANY(?::bigint[]) AND status = 'pending'",
      [now, now, ids],
    );
  }

  async release(ids: number[], owner: string, runAt: number, now = Date.now()): Promise<void> {
    if (!ids.length) return;
    await this.x.run(
      `UPDATE tasks SET status = 'pending', next_run_at = ?, attempts = GREATEST(0, attempts - 1),
       lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
       WHERE id = ANY(?::bigint[]) AND status = 'running' AND lease_owner = ?`,
      [runAt, now, ids, owner],
    );
  }

  async list(filter: Parameters<TaskStore["list"]>[0] = {}): Promise<Task[]> {
    const clauses: string[] = [];
    const params: unknown[] = [];
    if (filter.repo) {
      clauses.push("repo = ?");
      params.push(filter.repo);
    }
    if (filter.status) {
      clauses.push("status = ?");
      params.push(filter.status);
    }
    if (filter.type) {
      clauses.push("type = ?");
      params.push(filter.type);
    }
    const where = clauses.length ? `WHERE ${clauses.join(" AND ")}` : "";
    const rows = await this.x.all<TaskRow>(
      `SELECT * FROM tasks ${where} ORDER BY id DESC LIMIT ? OFFSET ?`,
      [...params, filter.limit ?? 100, filter.offset ?? 0],
    );
    return rows.map(toTask);
  }

  async counts(
    repo?: string,
  ): Promise<{ repo: string; type: TaskType; status: TaskStatus; count: number }[]> {
    // GROUP BY repo folds case like SQLite's NOCASE; min(repo) names the group (as SQLite picks one).
    return this.x.all(
      `SELECT min(repo) AS repo, type, status, COUNT(*) AS count FROM tasks ${repo ? "WHERE repo = ?" : ""}
       GROUP BY repo, type, status ORDER BY 1, type, status`,
      repo ? [repo] : [],
    );
  }

  async dueRepos(now = Date.now(), types?: readonly TaskType[]): Promise<string[]> {
    const typeClause = types ? "AND type = ANY(?::text[])" : "";
    const rows = await this.x.all<{ repo: string }>(
      `SELECT min(repo) AS repo FROM tasks WHERE ((status = 'pending' AND next_run_at <= ?)
       OR (status = 'running' AND lease_expires_at <= ?)) ${typeClause} GROUP BY repo`,
      [now, now, ...(types ? [types] : [])],
    );
    return rows.map((r) => r.repo);
  }

  async oldestPendingAge(now = Date.now()): Promise<number> {
    const row = await this.x.get<{ t: number | null }>(
      "SELECT MIN(next_run_at) AS t FROM tasks WHERE status = 'pending' AND next_run_at <= ?",
      [now],
    );
    return row?.t == null ? 0 : now - row.t;
  }
}
