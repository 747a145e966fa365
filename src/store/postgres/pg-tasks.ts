import type { Exec } from "./pg-exec.js";
import type { Async } from "../contract.js";
import { inList, minMax } from "../sql-query.js";
import type {
  ClaimOptions,
  Completion,
  EnqueueInput,
  EnqueueResult,
  TaskListFilter,
  TaskMatch,
  TaskRow,
  TaskStore,
} from "../tasks.js";
import {
  OPEN,
  cancelQuery,
  claimFilter,
  completeQuery,
  dedupKeyOf,
  failQuery,
  failureOutcome,
  INSERT_TASK_SQL,
  insertTaskQuery,
  newTask,
  parkKeyQuery,
  taskListQuery,
  toTask,
} from "../tasks.js";
import type { Task, TaskStatus, TaskType } from "../../core/domain.js";

/**
 * Statements built once: a statement's text is looked up by value on every execution (its
 * prepared name, src/store/postgres/pg-exec.ts), and a string built afresh is hashed each time.
 */
const OPEN_TASK = `SELECT * FROM tasks WHERE dedup_key = ? AND ${OPEN}`;
const PG_MIN_MAX = minMax("postgres");

/**
 * The enqueue: `ex` is read in the statement's snapshot, so an open task committed after it began
 * (the insert waited on it) is not seen, and enqueue tries again. The refresh re-checks the row it
 * locks, so a task claimed meanwhile is not refreshed (`ex` then says pending: try again).
 */
const ENQUEUE = `WITH ins AS (${INSERT_TASK_SQL} ON CONFLICT (dedup_key) WHERE ${OPEN} DO NOTHING RETURNING *),
      ex AS (SELECT * FROM tasks WHERE dedup_key = ? AND ${OPEN} AND NOT EXISTS (SELECT 1 FROM ins)),
      upd AS (UPDATE tasks SET payload = ?, content_hash = ?, next_run_at = ${PG_MIN_MAX.min}(next_run_at, ?),
                priority = ${PG_MIN_MAX.max}(priority, ?), updated_at = ?
              WHERE id = (SELECT id FROM ex) AND status = 'pending'
                AND (?::text IS NULL OR content_hash IS DISTINCT FROM ?::text)
              RETURNING *)
      SELECT 'created' AS kind, * FROM ins
      UNION ALL SELECT 'merged' AS kind, * FROM upd
      UNION ALL SELECT 'open' AS kind, * FROM ex WHERE NOT EXISTS (SELECT 1 FROM upd)`;

/** The PostgreSQL TaskStore: the SQLite bodies in src/store/tasks.ts are the reference. */
export class PgTaskStore implements Async<TaskStore> {
  constructor(private readonly x: Exec) {}

  async get(id: number): Promise<Task | undefined> {
    const row = await this.x.get<TaskRow>("SELECT * FROM tasks WHERE id = ?", [id]);
    return row ? toTask(row) : undefined;
  }

  async getMany(ids: readonly number[]): Promise<Task[]> {
    if (!ids.length) return [];
    const q = inList("postgres", "id", ids, "bigint");
    return (
      await this.x.all<TaskRow>(`SELECT * FROM tasks WHERE ${q.sql} ORDER BY id`, q.params)
    ).map(toTask);
  }

  async open(repo: string, type: TaskType, source: string): Promise<Task | undefined> {
    const row = await this.x.get<TaskRow>(OPEN_TASK, [dedupKeyOf(repo, type, source)]);
    return row ? toTask(row) : undefined;
  }

  /**
   * One open task per (repo, type, source), with SQLite's merge rules, in one statement (one
   * round trip) in the usual cases, safe across replicas without a transaction: the insert is
   * tried; on a conflict with the open-dedup unique index the open task is read, and a pending one
   * whose content changed is refreshed in the same statement. A running one is parked (its key
   * freed so a follow-up can be queued behind it) and the statement tried again, as it is when
   * another writer changed the open task meanwhile.
   */
  async enqueue(input: EnqueueInput, now = Date.now()): Promise<EnqueueResult> {
    const t = newTask(input, now);
    const insert = insertTaskQuery(input, t, now);
    const params = [
      ...insert.params,
      t.key,
      t.payload,
      t.hash,
      t.runAt,
      t.priority,
      now,
      t.hash,
      t.hash,
    ];
    for (let attempt = 0; ; attempt++) {
      const row = await this.x.get<TaskRow & { kind: "created" | "merged" | "open" }>(
        ENQUEUE,
        params,
      );
      if (row?.kind === "created") return { outcome: "created", task: toTask(row) };
      if (row?.kind === "merged") return { outcome: "merged", task: toTask(row) };
      if (row && t.hash !== null && row.content_hash === t.hash) {
        return { outcome: "unchanged", task: toTask(row) };
      }
      if (attempt > 20) throw new Error(`enqueue of ${t.key}: the open task kept changing`);
      // Gone or claimed in between: try again. Running: park its key first.
      if (row?.status === "running") {
        const q = parkKeyQuery(row.id, t.key);
        await this.x.run(q.sql, q.params);
      }
    }
  }

  async latestBySource(repo: string, type: TaskType, source: string): Promise<Task | undefined> {
    const row = await this.x.get<TaskRow>(
      "SELECT * FROM tasks WHERE repo = ? AND type = ? AND source = ? ORDER BY id DESC LIMIT 1",
      [repo, type, source],
    );
    return row ? toTask(row) : undefined;
  }

  async cancel(where: TaskMatch, reason: string, now = Date.now()): Promise<number> {
    const q = cancelQuery(where, reason, now, false);
    return this.x.run(q.sql, q.params);
  }

  async cancelPending(where: TaskMatch, reason: string, now = Date.now()): Promise<number> {
    const q = cancelQuery(where, reason, now, true);
    return this.x.run(q.sql, q.params);
  }

  /**
   * Claims up to `limit` due tasks in one statement: the due pending tasks (by the tasks_due
   * index) and the running ones whose lease expired are each selected FOR UPDATE SKIP LOCKED,
   * so concurrent claimers on any replica never take the same task and never wait for each other.
   */
  async claim(opts: ClaimOptions): Promise<Task[]> {
    const now = opts.now ?? Date.now();
    const { sql: extra, params } = claimFilter("postgres", opts);
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
    const q = completeQuery(id, owner, result, now);
    return (await this.x.run(q.sql, q.params)) === 1;
  }

  /** SQLite's completions as one statement: one round trip (and one commit) for a claimed batch. */
  async completeMany(
    done: readonly Completion[],
    owner: string | null,
    now = Date.now(),
  ): Promise<number[]> {
    if (!done.length) return [];
    const rows = await this.x.all<{ id: number }>(
      `UPDATE tasks t SET status = 'done', result = v.result, lease_owner = NULL,
         lease_expires_at = NULL, dedup_key = t.dedup_key || '#' || t.id, updated_at = ?
       FROM unnest(?::bigint[], ?::text[]) AS v(id, result)
       WHERE t.id = v.id AND t.status = 'running' AND (CAST(? AS TEXT) IS NULL OR t.lease_owner = ?)
       RETURNING t.id`,
      [now, done.map((c) => c.id), done.map((c) => JSON.stringify(c.result ?? null)), owner, owner],
    );
    const completed = new Set(rows.map((r) => r.id));
    return done.filter((c) => completed.delete(c.id)).map((c) => c.id);
  }

  /**
   * SQLite's reading of the task and its update, without a transaction: the update applies only
   * while the task is as read (running, same lease holder and attempts), else it is read again.
   */
  async fail(
    id: number,
    owner: string | null,
    error: string,
    opts: { retryAt?: number; permanent?: boolean } = {},
    now = Date.now(),
  ): Promise<TaskStatus | undefined> {
    for (let attempt = 0; ; attempt++) {
      const task = await this.get(id);
      if (!task || task.status !== "running") return task?.status;
      if (owner !== null && task.leaseOwner !== owner) return task.status;
      if (attempt > 20) throw new Error(`fail of task ${id}: it kept changing`);
      const f = failureOutcome(task, opts, now);
      const q = failQuery(id, f, error, now);
      const n = await this.x.run(
        `${q.sql} AND status = 'running' AND attempts = ? AND lease_owner IS NOT DISTINCT FROM ?`,
        [...q.params, task.attempts, task.leaseOwner],
      );
      if (n === 1) return f.status;
    }
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

  async list(filter: TaskListFilter = {}): Promise<Task[]> {
    const q = taskListQuery(filter);
    return (await this.x.all<TaskRow>(q.sql, q.params)).map(toTask);
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
    const t = types ? inList("postgres", "type", types) : { sql: "", params: [] };
    const rows = await this.x.all<{ repo: string }>(
      `SELECT min(repo) AS repo FROM tasks WHERE ((status = 'pending' AND next_run_at <= ?)
       OR (status = 'running' AND lease_expires_at <= ?)) ${t.sql && `AND ${t.sql}`} GROUP BY repo`,
      [now, now, ...t.params],
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
