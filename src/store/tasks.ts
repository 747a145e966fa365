import type { Db } from "./db.js";
import type { Task, TaskStatus, TaskType } from "../core/domain.js";
import { PRIORITY } from "../core/task-kinds.js";

/** A row of the table as the drivers return it (shared with the PostgreSQL part). */
export interface TaskRow {
  id: number;
  repo: string;
  type: string;
  source: string;
  dedup_key: string;
  status: string;
  priority: number;
  payload: string;
  content_hash: string | null;
  attempts: number;
  max_attempts: number;
  next_run_at: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  last_error: string | null;
  result: string | null;
  delivery_id: string | null;
  created_at: number;
  updated_at: number;
}

export function toTask(r: TaskRow): Task {
  return {
    id: r.id,
    repo: r.repo,
    type: r.type as TaskType,
    source: r.source,
    dedupKey: r.dedup_key,
    status: r.status as TaskStatus,
    priority: r.priority,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    contentHash: r.content_hash,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    nextRunAt: r.next_run_at,
    leaseOwner: r.lease_owner,
    leaseExpiresAt: r.lease_expires_at,
    lastError: r.last_error,
    result: r.result,
    deliveryId: r.delivery_id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export interface EnqueueInput {
  repo: string;
  type: TaskType;
  source: string;
  payload?: Record<string, unknown>;
  contentHash?: string | null;
  priority?: number;
  runAt?: number;
  maxAttempts?: number;
  deliveryId?: string | null;
}

/** `task` is the row as read when first accessed (merged and unchanged outcomes read it lazily). */
export type EnqueueResult =
  | { outcome: "created"; task: Task }
  /** An open task for the same (repo, type, source) exists; its payload/hash were refreshed. */
  | { outcome: "merged"; task: Task }
  /** An open task with the same content hash exists already. */
  | { outcome: "unchanged"; task: Task };

export function dedupKeyOf(repo: string, type: TaskType, source: string): string {
  return `${repo.toLowerCase()}|${type}|${source}`;
}

/** Which tasks a cancel applies to: a repository, optionally narrowed to a type and a source. */
export interface TaskMatch {
  repo: string;
  type?: TaskType;
  source?: string;
}

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

export class TaskStore {
  constructor(private readonly db: Db) {}

  get(id: number): Task | undefined {
    const row = this.db.prepare("SELECT * FROM tasks WHERE id = ?").get(id) as TaskRow | undefined;
    return row ? toTask(row) : undefined;
  }

  /** The open (pending or running) task for a dedup key, if any. */
  open(repo: string, type: TaskType, source: string): Task | undefined {
    const row = this.db
      .prepare("SELECT * FROM tasks WHERE dedup_key = ? AND status IN ('pending','running')")
      .get(dedupKeyOf(repo, type, source)) as TaskRow | undefined;
    return row ? toTask(row) : undefined;
  }

  /**
   * An outcome whose task row is read when first asked for: intake mostly needs only the outcome,
   * and reading and decoding the whole row was most of a refresh's cost.
   */
  private outcome(outcome: "merged" | "unchanged", id: number): EnqueueResult {
    let task: Task | undefined;
    const get = (): Task => (task ??= this.get(id)!);
    return {
      outcome,
      get task() {
        return get();
      },
    };
  }

  /**
   * One open task per (repo, type, source). A pending duplicate is refreshed (new payload,
   * hash, and the earlier of the two run times); a running one gets a follow-up only when the
   * content changed, so an edit made during a run is not lost.
   */
  enqueue(input: EnqueueInput, now = Date.now()): EnqueueResult {
    const key = dedupKeyOf(input.repo, input.type, input.source);
    const payload = JSON.stringify(input.payload ?? {});
    const hash = input.contentHash ?? null;
    const runAt = input.runAt ?? now;
    // Only what decides the outcome: building all nineteen columns of a row the refresh below
    // returns anyway is most of this lookup's cost.
    const existing = this.db
      .prepare(
        "SELECT id, status, content_hash FROM tasks WHERE dedup_key = ? AND status IN ('pending','running')",
      )
      .get(key) as Pick<TaskRow, "id" | "status" | "content_hash"> | undefined;
    if (existing) {
      if (hash !== null && existing.content_hash === hash) {
        return this.outcome("unchanged", existing.id);
      }
      if (existing.status === "pending") {
        this.db
          .prepare(
            `UPDATE tasks SET payload = ?, content_hash = ?, next_run_at = MIN(next_run_at, ?),
             priority = MAX(priority, ?), updated_at = ? WHERE id = ?`,
          )
          .run(payload, hash, runAt, input.priority ?? PRIORITY[input.type], now, existing.id);
        return this.outcome("merged", existing.id);
      }
      // Running: park the old one's key so a follow-up can be queued behind it.
      this.db
        .prepare("UPDATE tasks SET dedup_key = dedup_key || '#' || id WHERE id = ?")
        .run(existing.id);
    }
    const row = this.db
      .prepare(
        `INSERT INTO tasks (repo, type, source, dedup_key, status, priority, payload, content_hash,
          max_attempts, next_run_at, delivery_id, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      )
      .get(
        input.repo,
        input.type,
        input.source,
        key,
        input.priority ?? PRIORITY[input.type],
        payload,
        hash,
        input.maxAttempts ?? 3,
        runAt,
        input.deliveryId ?? null,
        now,
        now,
      ) as TaskRow;
    return { outcome: "created", task: toTask(row) };
  }

  /** The newest task ever queued for (repo, type, source), in any status: "was this already taken in?" */
  latestBySource(repo: string, type: TaskType, source: string): Task | undefined {
    const row = this.db
      .prepare(
        "SELECT * FROM tasks WHERE repo = ? AND type = ? AND source = ? ORDER BY id DESC LIMIT 1",
      )
      .get(repo, type, source) as TaskRow | undefined;
    return row ? toTask(row) : undefined;
  }

  /** Cancels open tasks matching repo (and optionally type and source). Returns how many. */
  cancel(where: TaskMatch, reason: string, now = Date.now()): number {
    const m = matchClause(where);
    return this.db
      .prepare(
        `UPDATE tasks SET status = 'cancelled', last_error = ?, lease_owner = NULL,
         lease_expires_at = NULL, dedup_key = dedup_key || '#' || id, updated_at = ?
         WHERE status IN ('pending','running') AND ${m.sql}`,
      )
      .run(reason, now, ...m.params).changes;
  }

  /**
   * Cancels pending tasks only (a running task finishes and records its result): a closed PR,
   * a closed issue, a removed repository. Returns how many.
   */
  cancelPending(where: TaskMatch, reason: string, now = Date.now()): number {
    const m = matchClause(where);
    return this.db
      .prepare(
        `UPDATE tasks SET status = 'cancelled', last_error = ?, dedup_key = dedup_key || '#' || id, updated_at = ?
         WHERE status = 'pending' AND ${m.sql}`,
      )
      .run(reason, now, ...m.params).changes;
  }

  /**
   * Claims up to `limit` due tasks with a lease, in priority order. A running task whose
   * lease expired (its worker crashed) is claimable again. Atomic: two workers never claim
   * the same task.
   */
  claim(opts: {
    owner: string;
    leaseMs: number;
    limit: number;
    repo?: string;
    repos?: string[];
    types?: readonly TaskType[];
    /** Only tasks at this priority or above. */
    minPriority?: number;
    now?: number;
  }): Task[] {
    const now = opts.now ?? Date.now();
    return this.db.transaction(() => {
      const clauses = [
        "((status = 'pending' AND next_run_at <= ?) OR (status = 'running' AND lease_expires_at <= ?))",
      ];
      const params: unknown[] = [now, now];
      if (opts.repo) {
        clauses.push("repo = ?");
        params.push(opts.repo);
      }
      if (opts.repos) {
        clauses.push(`repo IN (${opts.repos.map(() => "?").join(",") || "NULL"})`);
        params.push(...opts.repos);
      }
      if (opts.types) {
        clauses.push(`type IN (${opts.types.map(() => "?").join(",") || "NULL"})`);
        params.push(...opts.types);
      }
      if (opts.minPriority !== undefined) {
        clauses.push("priority >= ?");
        params.push(opts.minPriority);
      }
      const rows = this.db
        .prepare(
          `SELECT id FROM tasks WHERE ${clauses.join(" AND ")}
           ORDER BY priority DESC, next_run_at, id LIMIT ?`,
        )
        .all(...params, opts.limit) as { id: number }[];
      const upd = this.db.prepare(
        `UPDATE tasks SET status = 'running', lease_owner = ?, lease_expires_at = ?,
         attempts = attempts + 1, updated_at = ? WHERE id = ?`,
      );
      for (const r of rows) upd.run(opts.owner, now + opts.leaseMs, now, r.id);
      return rows.map((r) => this.get(r.id)!);
    })();
  }

  /** Extends the lease of tasks still held by `owner`. */
  heartbeat(ids: number[], owner: string, leaseMs: number, now = Date.now()): number {
    let n = 0;
    const stmt = this.db.prepare(
      "UPDATE tasks SET lease_expires_at = ?, updated_at = ? WHERE id = ? AND status = 'running' AND lease_owner = ?",
    );
    for (const id of ids) n += stmt.run(now + leaseMs, now, id, owner).changes;
    return n;
  }

  /** Marks a task done with its result. Harmless when repeated. Returns false if the lease was lost. */
  complete(id: number, owner: string | null, result: unknown, now = Date.now()): boolean {
    const res = this.db
      .prepare(
        `UPDATE tasks SET status = 'done', result = ?, lease_owner = NULL, lease_expires_at = NULL,
         dedup_key = dedup_key || '#' || id, updated_at = ?
         WHERE id = ? AND status = 'running' AND (? IS NULL OR lease_owner = ?)`,
      )
      .run(JSON.stringify(result ?? null), now, id, owner, owner);
    return res.changes === 1;
  }

  /**
   * Records a failure: retried with exponential backoff until max_attempts, then failed.
   * `retryAt` forces a retry time (e.g. a 409 "re-evaluate later", or a budget stop)
   * without consuming an attempt.
   */
  fail(
    id: number,
    owner: string | null,
    error: string,
    opts: { retryAt?: number; permanent?: boolean } = {},
    now = Date.now(),
  ): TaskStatus | undefined {
    const task = this.get(id);
    if (!task || task.status !== "running") return task?.status;
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
    this.db
      .prepare(
        `UPDATE tasks SET status = ?, next_run_at = ?, attempts = ?, last_error = ?, lease_owner = NULL,
         lease_expires_at = NULL, updated_at = ?,
         dedup_key = CASE WHEN ? = 'failed' THEN dedup_key || '#' || id ELSE dedup_key END
         WHERE id = ?`,
      )
      .run(status, next, attempts, error.slice(0, 4000), now, status, id);
    return status;
  }

  /** Makes pending tasks due now (e.g. results of an OpenAI batch arrived for them). */
  wake(ids: number[], now = Date.now()): void {
    const stmt = this.db.prepare(
      "UPDATE tasks SET next_run_at = MIN(next_run_at, ?), updated_at = ? WHERE id = ? AND status = 'pending'",
    );
    for (const id of ids) stmt.run(now, now, id);
  }

  /** Puts claimed tasks back without counting an attempt (paused repo, budget wait). */
  release(ids: number[], owner: string, runAt: number, now = Date.now()): void {
    const stmt = this.db.prepare(
      `UPDATE tasks SET status = 'pending', next_run_at = ?, attempts = MAX(0, attempts - 1),
       lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
       WHERE id = ? AND status = 'running' AND lease_owner = ?`,
    );
    for (const id of ids) stmt.run(runAt, now, id, owner);
  }

  list(
    filter: {
      repo?: string;
      status?: TaskStatus;
      type?: TaskType;
      limit?: number;
      offset?: number;
    } = {},
  ): Task[] {
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
    const rows = this.db
      .prepare(`SELECT * FROM tasks ${where} ORDER BY id DESC LIMIT ? OFFSET ?`)
      .all(...params, filter.limit ?? 100, filter.offset ?? 0) as TaskRow[];
    return rows.map(toTask);
  }

  /** Counts by (repo, type, status), for status views and metrics. */
  counts(repo?: string): { repo: string; type: TaskType; status: TaskStatus; count: number }[] {
    const rows = this.db
      .prepare(
        `SELECT repo, type, status, COUNT(*) AS count FROM tasks ${repo ? "WHERE repo = ?" : ""}
         GROUP BY repo, type, status ORDER BY repo, type, status`,
      )
      .all(...(repo ? [repo] : [])) as {
      repo: string;
      type: TaskType;
      status: TaskStatus;
      count: number;
    }[];
    return rows;
  }

  /** Repositories that have due work. */
  dueRepos(now = Date.now(), types?: readonly TaskType[]): string[] {
    const typeClause = types ? `AND type IN (${types.map(() => "?").join(",") || "NULL"})` : "";
    const rows = this.db
      .prepare(
        `SELECT DISTINCT repo FROM tasks WHERE ((status = 'pending' AND next_run_at <= ?)
         OR (status = 'running' AND lease_expires_at <= ?)) ${typeClause}`,
      )
      .all(now, now, ...(types ?? [])) as { repo: string }[];
    return rows.map((r) => r.repo);
  }

  /** Age in ms of the oldest pending due task, for metrics. */
  oldestPendingAge(now = Date.now()): number {
    const row = this.db
      .prepare(
        "SELECT MIN(next_run_at) AS t FROM tasks WHERE status = 'pending' AND next_run_at <= ?",
      )
      .get(now) as { t: number | null };
    return row.t === null ? 0 : now - row.t;
  }
}
