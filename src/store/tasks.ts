import type { StoreDialect } from "./contract.js";
import type { Db } from "./db.js";
import type { SqlQuery } from "./sql-query.js";
import { inList, minMax, whereSet } from "./sql-query.js";
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

/** Open: pending or running (the predicate of the one-open-task-per-dedup-key unique index). */
export const OPEN = "status IN ('pending','running')";

/** A new task's values, as both engines store them. */
export interface NewTask {
  key: string;
  payload: string;
  hash: string | null;
  runAt: number;
  priority: number;
}

export function newTask(input: EnqueueInput, now: number): NewTask {
  return {
    key: dedupKeyOf(input.repo, input.type, input.source),
    payload: JSON.stringify(input.payload ?? {}),
    hash: input.contentHash ?? null,
    runAt: input.runAt ?? now,
    priority: input.priority ?? PRIORITY[input.type],
  };
}

/** The statement of insertTaskQuery (the PostgreSQL enqueue builds its upsert around it). */
export const INSERT_TASK_SQL = `INSERT INTO tasks (repo, type, source, dedup_key, status, priority, payload, content_hash,
          max_attempts, next_run_at, delivery_id, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?)`;

/** The INSERT of a new pending task; each engine adds how it meets the open one and returns the row. */
export function insertTaskQuery(input: EnqueueInput, t: NewTask, now: number): SqlQuery {
  return {
    sql: INSERT_TASK_SQL,
    params: [
      input.repo,
      input.type,
      input.source,
      t.key,
      t.priority,
      t.payload,
      t.hash,
      input.maxAttempts ?? 3,
      t.runAt,
      input.deliveryId ?? null,
      now,
      now,
    ],
  };
}

/** Refreshes a pending duplicate: new payload and hash, the earlier run time, the higher priority. */
export function mergeTaskQuery(
  dialect: StoreDialect,
  id: number,
  t: NewTask,
  now: number,
): SqlQuery {
  const f = minMax(dialect);
  return {
    sql: `UPDATE tasks SET payload = ?, content_hash = ?, next_run_at = ${f.min}(next_run_at, ?),
           priority = ${f.max}(priority, ?), updated_at = ? WHERE id = ? AND status = 'pending'`,
    params: [t.payload, t.hash, t.runAt, t.priority, now, id],
  };
}

/** Parks a running task's key so a follow-up can be queued behind it. */
export function parkKeyQuery(id: number, key: string): SqlQuery {
  return {
    sql: "UPDATE tasks SET dedup_key = dedup_key || '#' || id WHERE id = ? AND status = 'running' AND dedup_key = ?",
    params: [id, key],
  };
}

function matchClause(where: TaskMatch): SqlQuery {
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

/** Cancels the matching open tasks, or (`pendingOnly`) only those not running. */
export function cancelQuery(
  where: TaskMatch,
  reason: string,
  now: number,
  pendingOnly: boolean,
): SqlQuery {
  const m = matchClause(where);
  return {
    sql: pendingOnly
      ? `UPDATE tasks SET status = 'cancelled', last_error = ?, dedup_key = dedup_key || '#' || id, updated_at = ?
         WHERE status = 'pending' AND ${m.sql}`
      : `UPDATE tasks SET status = 'cancelled', last_error = ?, lease_owner = NULL,
         lease_expires_at = NULL, dedup_key = dedup_key || '#' || id, updated_at = ?
         WHERE ${OPEN} AND ${m.sql}`,
    params: [reason, now, ...m.params],
  };
}

/** What finishing a running task sets (its key freed for the next one of the same source). */
const DONE_SET = `status = 'done', lease_owner = NULL, lease_expires_at = NULL,
         dedup_key = dedup_key || '#' || id, updated_at = ?`;

/** Marks one running task done (held by `owner`, or by anyone when null). */
export function completeQuery(
  id: number,
  owner: string | null,
  result: unknown,
  now: number,
): SqlQuery {
  return {
    sql: `UPDATE tasks SET result = ?, ${DONE_SET}
         WHERE id = ? AND status = 'running' AND (CAST(? AS TEXT) IS NULL OR lease_owner = ?)`,
    params: [JSON.stringify(result ?? null), now, id, owner, owner],
  };
}

/** A task a worker finished, with its result (`tasks.completeMany`). */
export interface Completion {
  id: number;
  result: unknown;
}

/** How a failure leaves a task: retried later (pending) or failed for good. */
export interface FailureOutcome {
  status: TaskStatus;
  nextRunAt: number;
  attempts: number;
}

/**
 * Retried with exponential backoff (30 s, doubling, at most an hour) until max_attempts, then
 * failed; `retryAt` forces the retry time without consuming an attempt.
 */
export function failureOutcome(
  task: Pick<Task, "attempts" | "maxAttempts" | "nextRunAt">,
  opts: { retryAt?: number; permanent?: boolean },
  now: number,
): FailureOutcome {
  if (opts.retryAt !== undefined) {
    return { status: "pending", nextRunAt: opts.retryAt, attempts: Math.max(0, task.attempts - 1) };
  }
  if (opts.permanent || task.attempts >= task.maxAttempts) {
    return { status: "failed", nextRunAt: task.nextRunAt, attempts: task.attempts };
  }
  return {
    status: "pending",
    nextRunAt: now + Math.min(60 * 60_000, 30_000 * 2 ** (task.attempts - 1)),
    attempts: task.attempts,
  };
}

/** Records a failure's outcome; a failed task's key is freed, a retried one keeps it. */
export function failQuery(id: number, f: FailureOutcome, error: string, now: number): SqlQuery {
  return {
    sql: `UPDATE tasks SET status = ?, next_run_at = ?, attempts = ?, last_error = ?, lease_owner = NULL,
         lease_expires_at = NULL, updated_at = ?,
         dedup_key = CASE WHEN CAST(? AS TEXT) = 'failed' THEN dedup_key || '#' || id ELSE dedup_key END
         WHERE id = ?`,
    params: [f.status, f.nextRunAt, f.attempts, error.slice(0, 4000), now, f.status, id],
  };
}

export interface ClaimOptions {
  owner: string;
  leaseMs: number;
  limit: number;
  repo?: string;
  repos?: string[];
  types?: readonly TaskType[];
  /** Only tasks at this priority or above. */
  minPriority?: number;
  now?: number;
}

/** A claim's narrowing conditions (repository, repositories, types, priority), each as ` AND …`. */
export function claimFilter(dialect: StoreDialect, opts: ClaimOptions): SqlQuery {
  const parts: SqlQuery[] = [];
  if (opts.repo) parts.push({ sql: "repo = ?", params: [opts.repo] });
  if (opts.repos) parts.push(inList(dialect, "repo", opts.repos));
  if (opts.types) parts.push(inList(dialect, "type", opts.types));
  if (opts.minPriority !== undefined) {
    parts.push({ sql: "priority >= ?", params: [opts.minPriority] });
  }
  return {
    sql: parts.map((p) => ` AND ${p.sql}`).join(""),
    params: parts.flatMap((p) => p.params),
  };
}

export interface TaskListFilter {
  repo?: string;
  status?: TaskStatus;
  type?: TaskType;
  limit?: number;
  offset?: number;
}

/** Newest first, filtered by repository, status and type. */
export function taskListQuery(filter: TaskListFilter): SqlQuery {
  const w = whereSet([
    ["repo = ?", filter.repo],
    ["status = ?", filter.status],
    ["type = ?", filter.type],
  ]);
  return {
    sql: `SELECT * FROM tasks ${w.sql} ORDER BY id DESC LIMIT ? OFFSET ?`,
    params: [...w.params, filter.limit ?? 100, filter.offset ?? 0],
  };
}

export class TaskStore {
  constructor(private readonly db: Db) {}

  get(id: number): Task | undefined {
    const row = this.db.prepare("SELECT * FROM tasks WHERE id = ?").get(id) as TaskRow | undefined;
    return row ? toTask(row) : undefined;
  }

  /** The tasks of `ids` that exist, by id (one query; the worker API reads a runner's results so). */
  getMany(ids: readonly number[]): Task[] {
    if (!ids.length) return [];
    const q = inList("sqlite", "id", ids);
    return (
      this.db
        .prepare(`SELECT * FROM tasks WHERE ${q.sql} ORDER BY id`)
        .all(...q.params) as TaskRow[]
    ).map(toTask);
  }

  /** The open (pending or running) task for a dedup key, if any. */
  open(repo: string, type: TaskType, source: string): Task | undefined {
    const row = this.db
      .prepare(`SELECT * FROM tasks WHERE dedup_key = ? AND ${OPEN}`)
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
    const t = newTask(input, now);
    // Only what decides the outcome: building all nineteen columns of a row the refresh below
    // returns anyway is most of this lookup's cost.
    const existing = this.db
      .prepare(`SELECT id, status, content_hash FROM tasks WHERE dedup_key = ? AND ${OPEN}`)
      .get(t.key) as Pick<TaskRow, "id" | "status" | "content_hash"> | undefined;
    if (existing) {
      if (t.hash !== null && existing.content_hash === t.hash) {
        return this.outcome("unchanged", existing.id);
      }
      if (existing.status === "pending") {
        const q = mergeTaskQuery("sqlite", existing.id, t, now);
        this.db.prepare(q.sql).run(...q.params);
        return this.outcome("merged", existing.id);
      }
      // Running: park the old one's key so a follow-up can be queued behind it.
      const q = parkKeyQuery(existing.id, t.key);
      this.db.prepare(q.sql).run(...q.params);
    }
    const q = insertTaskQuery(input, t, now);
    const row = this.db.prepare(`${q.sql} RETURNING *`).get(...q.params) as TaskRow;
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
    const q = cancelQuery(where, reason, now, false);
    return this.db.prepare(q.sql).run(...q.params).changes;
  }

  /**
   * Cancels pending tasks only (a running task finishes and records its result): a closed PR,
   * a closed issue, a removed repository. Returns how many.
   */
  cancelPending(where: TaskMatch, reason: string, now = Date.now()): number {
    const q = cancelQuery(where, reason, now, true);
    return this.db.prepare(q.sql).run(...q.params).changes;
  }

  /**
   * Claims up to `limit` due tasks with a lease, in priority order. A running task whose
   * lease expired (its worker crashed) is claimable again. Atomic: two workers never claim
   * the same task.
   */
  claim(opts: ClaimOptions): Task[] {
    const now = opts.now ?? Date.now();
    return this.db.transaction(() => {
      const f = claimFilter("sqlite", opts);
      const rows = this.db
        .prepare(
          `SELECT id FROM tasks
           WHERE ((status = 'pending' AND next_run_at <= ?) OR (status = 'running' AND lease_expires_at <= ?))${f.sql}
           ORDER BY priority DESC, next_run_at, id LIMIT ?`,
        )
        .all(now, now, ...f.params, opts.limit) as { id: number }[];
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
    const q = completeQuery(id, owner, result, now);
    return this.db.prepare(q.sql).run(...q.params).changes === 1;
  }

  /**
   * Marks many tasks done, each with its result, in one transaction (the worker pass settles a
   * batch so). Returns the ids completed; a task whose lease `owner` lost is left as it is.
   */
  completeMany(done: readonly Completion[], owner: string | null, now = Date.now()): number[] {
    if (!done.length) return [];
    return this.db.transaction(() =>
      done
        .filter((c) => {
          const q = completeQuery(c.id, owner, c.result, now);
          return this.db.prepare(q.sql).run(...q.params).changes === 1;
        })
        .map((c) => c.id),
    )();
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
    const f = failureOutcome(task, opts, now);
    const q = failQuery(id, f, error, now);
    this.db.prepare(q.sql).run(...q.params);
    return f.status;
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

  list(filter: TaskListFilter = {}): Task[] {
    const q = taskListQuery(filter);
    return (this.db.prepare(q.sql).all(...q.params) as TaskRow[]).map(toTask);
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
    const t = types ? inList("sqlite", "type", types) : { sql: "", params: [] };
    const rows = this.db
      .prepare(
        `SELECT DISTINCT repo FROM tasks WHERE ((status = 'pending' AND next_run_at <= ?)
         OR (status = 'running' AND lease_expires_at <= ?)) ${t.sql && `AND ${t.sql}`}`,
      )
      .all(now, now, ...t.params) as { repo: string }[];
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
