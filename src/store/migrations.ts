import type { Db } from "./db.js";
import { PG_INITIAL } from "./postgres/pg-schema.js";

/**
 * One migration: `sql` for SQLite, `pg` for PostgreSQL. The version numbers agree on both:
 * PostgreSQL's first migration creates the schema of 001–005 at once (src/store/postgres/
 * pg-schema.ts) and 002–005 are empty there. Every later migration carries both.
 */
export interface Migration {
  name: string;
  sql: string;
  pg: string;
}

/**
 * Ordered migrations; the database's PRAGMA user_version is the number applied.
 * Append only: never edit a migration that has shipped.
 */
export const migrations: readonly Migration[] = [
  {
    name: "001-initial",
    pg: PG_INITIAL,
    sql: `
CREATE TABLE deliveries (
  id TEXT PRIMARY KEY,
  event TEXT NOT NULL,
  action TEXT,
  repo TEXT,
  received_at INTEGER NOT NULL,
  outcome TEXT NOT NULL DEFAULT 'recorded'
);
CREATE INDEX deliveries_received ON deliveries(received_at);

CREATE TABLE repositories (
  full_name TEXT PRIMARY KEY COLLATE NOCASE,
  repo_id INTEGER,
  installation_id INTEGER,
  default_branch TEXT,
  installed INTEGER NOT NULL DEFAULT 1,
  config_json TEXT,
  config_hash TEXT,
  config_valid INTEGER NOT NULL DEFAULT 1,
  config_errors TEXT,
  config_loaded_at INTEGER,
  config_reported_hash TEXT,
  added_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX repositories_installation ON repositories(installation_id);

CREATE TABLE tasks (
  id INTEGER PRIMARY KEY,
  repo TEXT NOT NULL COLLATE NOCASE,
  type TEXT NOT NULL,
  source TEXT NOT NULL,
  dedup_key TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  priority INTEGER NOT NULL DEFAULT 0,
  payload TEXT NOT NULL DEFAULT '{}',
  content_hash TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL DEFAULT 3,
  next_run_at INTEGER NOT NULL,
  lease_owner TEXT,
  lease_expires_at INTEGER,
  last_error TEXT,
  result TEXT,
  delivery_id TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX tasks_open_dedup ON tasks(dedup_key) WHERE status IN ('pending', 'running');
CREATE INDEX tasks_due ON tasks(status, priority DESC, next_run_at);
CREATE INDEX tasks_repo_status ON tasks(repo, status, type);
CREATE INDEX tasks_lease ON tasks(lease_expires_at) WHERE status = 'running';

CREATE TABLE activity (
  repo TEXT PRIMARY KEY COLLATE NOCASE,
  last_human_at INTEGER,
  last_human_login TEXT,
  paused INTEGER NOT NULL DEFAULT 0,
  paused_until INTEGER,
  paused_by TEXT,
  paused_reason TEXT
);

CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  repo TEXT COLLATE NOCASE,
  target TEXT,
  command TEXT NOT NULL,
  args TEXT,
  result TEXT NOT NULL,
  delivery_id TEXT
);
CREATE INDEX audit_repo_at ON audit(repo, at DESC);
CREATE INDEX audit_at ON audit(at DESC);

CREATE TABLE batches (
  id INTEGER PRIMARY KEY,
  repo TEXT NOT NULL COLLATE NOCASE,
  type TEXT NOT NULL,
  provider TEXT,
  model TEXT,
  status TEXT NOT NULL DEFAULT 'running',
  items INTEGER NOT NULL DEFAULT 0,
  prompt_tokens INTEGER NOT NULL DEFAULT 0,
  cached_tokens INTEGER NOT NULL DEFAULT 0,
  completion_tokens INTEGER NOT NULL DEFAULT 0,
  cost_usd REAL NOT NULL DEFAULT 0,
  external_id TEXT,
  error TEXT,
  started_at INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE INDEX batches_repo_started ON batches(repo, started_at DESC);
CREATE INDEX batches_external ON batches(external_id) WHERE external_id IS NOT NULL;

CREATE TABLE batch_tasks (
  batch_id INTEGER NOT NULL REFERENCES batches(id),
  task_id INTEGER NOT NULL,
  PRIMARY KEY (batch_id, task_id)
);

CREATE TABLE spend (
  repo TEXT NOT NULL COLLATE NOCASE,
  day TEXT NOT NULL,
  cost_usd REAL NOT NULL DEFAULT 0,
  prompt_tokens INTEGER NOT NULL DEFAULT 0,
  cached_tokens INTEGER NOT NULL DEFAULT 0,
  completion_tokens INTEGER NOT NULL DEFAULT 0,
  calls INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (repo, day)
);

CREATE TABLE budget_alerts (
  repo TEXT NOT NULL COLLATE NOCASE,
  period TEXT NOT NULL,
  level INTEGER NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (repo, period, level)
);

CREATE TABLE analyses (
  key TEXT PRIMARY KEY,
  repo TEXT NOT NULL COLLATE NOCASE,
  source TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  should_fix INTEGER NOT NULL,
  complexity TEXT NOT NULL,
  plan TEXT NOT NULL,
  affected_files TEXT NOT NULL DEFAULT '[]',
  batch_id INTEGER,
  analysed_at INTEGER NOT NULL,
  comment_url TEXT
);
CREATE INDEX analyses_repo ON analyses(repo, analysed_at DESC);

CREATE TABLE proposals (
  id INTEGER PRIMARY KEY,
  repo TEXT NOT NULL COLLATE NOCASE,
  kind TEXT NOT NULL,
  target TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'proposed',
  payload TEXT NOT NULL DEFAULT '{}',
  decided_by TEXT,
  decided_at INTEGER,
  reason TEXT,
  created_at INTEGER NOT NULL,
  UNIQUE (repo, kind, target, content_hash)
);
CREATE INDEX proposals_target ON proposals(repo, target, status);

CREATE TABLE schedules (
  id INTEGER PRIMARY KEY,
  repo TEXT NOT NULL COLLATE NOCASE,
  name TEXT NOT NULL,
  spec_json TEXT NOT NULL,
  spec_hash TEXT NOT NULL,
  origin TEXT NOT NULL DEFAULT 'config',
  status TEXT NOT NULL DEFAULT 'active',
  next_run_at INTEGER,
  last_run_at INTEGER,
  run_count INTEGER NOT NULL DEFAULT 0,
  max_runs INTEGER,
  last_result_hash TEXT,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL,
  UNIQUE (repo, name)
);
CREATE INDEX schedules_due ON schedules(status, next_run_at);

CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  repo TEXT NOT NULL COLLATE NOCASE,
  kind TEXT NOT NULL,
  ref TEXT,
  url TEXT,
  task_id INTEGER,
  batch_id INTEGER,
  status TEXT NOT NULL,
  summary TEXT,
  error TEXT,
  prompt_tokens INTEGER NOT NULL DEFAULT 0,
  cached_tokens INTEGER NOT NULL DEFAULT 0,
  completion_tokens INTEGER NOT NULL DEFAULT 0,
  cost_usd REAL NOT NULL DEFAULT 0,
  started_at INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE INDEX runs_started ON runs(started_at DESC);
CREATE INDEX runs_repo_started ON runs(repo, started_at DESC);

CREATE TABLE automerge_state (
  repo TEXT NOT NULL COLLATE NOCASE,
  pr INTEGER NOT NULL,
  head_sha TEXT,
  state TEXT NOT NULL,
  first_unmet TEXT,
  conditions_json TEXT NOT NULL DEFAULT '[]',
  evaluated_at INTEGER NOT NULL,
  PRIMARY KEY (repo, pr)
);
CREATE INDEX automerge_state_state ON automerge_state(state, evaluated_at);
`,
  },
  {
    // /bg commands: each command of a comment is audited with its source (`comment:<id>#<n>`), so a
    // retried command task knows what it already did; and "was this comment taken in already?".
    name: "002-command-audit-source",
    pg: "", // in PostgreSQL's 001
    sql: `
ALTER TABLE audit ADD COLUMN source TEXT;
CREATE INDEX audit_source ON audit(source) WHERE source IS NOT NULL;
CREATE INDEX tasks_source ON tasks(repo, type, source);
`,
  },
  {
    // The dashboard and the admin API page runs and batches newest-first by id, optionally per
    // repository and kind. An index on (repo) is ordered by (repo, rowid), so these serve
    // `WHERE repo = ? AND id < ? ORDER BY id DESC` without scanning or sorting.
    name: "003-dashboard-indexes",
    pg: "", // in PostgreSQL's 001
    sql: `
CREATE INDEX runs_repo_id ON runs(repo);
CREATE INDEX runs_kind_id ON runs(kind);
CREATE INDEX runs_repo_kind_id ON runs(repo, kind);
CREATE INDEX batches_repo_id ON batches(repo);
`,
  },
  {
    // Why a schedule is paused/failed/done: a disabled task resumes when re-enabled, a task paused
    // by failures stays paused until its definition changes or someone resumes it.
    // The due index also covers repo and name, so a tick's due selection (and the repositories to
    // visit) is read from the index alone; a second index serves one repository's due rows.
    name: "004-schedule-status-reason",
    pg: "", // in PostgreSQL's 001
    sql: `
ALTER TABLE schedules ADD COLUMN status_reason TEXT;
DROP INDEX schedules_due;
CREATE INDEX schedules_due ON schedules(status, next_run_at, repo, name);
CREATE INDEX schedules_repo_due ON schedules(repo, status, next_run_at);
`,
  },
  {
    // (feat/steer) Retention compaction (src/store/retention.ts) deletes old rows in small steps
    // by time: finished tasks and batches need an index on it. `/bg tasks` and the admin API read
    // a task's newest run and its runs (`?task=`) by (repo, ref). Switching an existing database
    // to auto_vacuum=INCREMENTAL needs a VACUUM outside any transaction: done at open (db.ts).
    name: "005-steer-retention-indexes",
    pg: "", // in PostgreSQL's 001
    sql: `
CREATE INDEX tasks_finished_updated ON tasks(updated_at) WHERE status IN ('done', 'failed', 'cancelled');
CREATE INDEX batches_started ON batches(started_at);
CREATE INDEX runs_repo_ref ON runs(repo, ref);
`,
  },
  {
    // (feat/libs) Signed-out dashboard sessions (src/store/session-revocations.ts): a session
    // cookie is a stateless JWT, so signing out records its id until it would have expired, in
    // the database every replica shares (it was kept in one process's memory before).
    name: "006-session-revocations",
    pg: `
CREATE TABLE session_revocations (
  sid TEXT PRIMARY KEY,
  login TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT NOT NULL
);
CREATE INDEX session_revocations_expires ON session_revocations(expires_at);
`,
    sql: `
CREATE TABLE session_revocations (
  sid TEXT PRIMARY KEY,
  login TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL
);
CREATE INDEX session_revocations_expires ON session_revocations(expires_at);
`,
  },
  {
    // (feat/events) Reports sent outside GitHub (`report_to: slack:NAME`, discord:, webhook:):
    // each attempt series' outcome, so failures show in `/bg status` and on the dashboard.
    name: "007-report-deliveries",
    pg: `
CREATE TABLE report_deliveries (
  id BIGSERIAL PRIMARY KEY,
  repo TEXT NOT NULL COLLATE bg_nocase,
  task TEXT NOT NULL,
  target TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  error TEXT,
  run_id BIGINT,
  created_at BIGINT NOT NULL
);
CREATE INDEX report_deliveries_repo ON report_deliveries(repo, id);
`,
    sql: `
CREATE TABLE report_deliveries (
  id INTEGER PRIMARY KEY,
  repo TEXT NOT NULL COLLATE NOCASE,
  task TEXT NOT NULL,
  target TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  error TEXT,
  run_id INTEGER,
  created_at INTEGER NOT NULL
);
CREATE INDEX report_deliveries_repo ON report_deliveries(repo, id);
`,
  },
  {
    // (feat/replicas) What one process used to remember, shared by every replica on the database:
    // the signature of the last bg-agent/automerge check run published per PR (an unchanged
    // evaluation publishes nothing, on any replica, after a restart too), when bg-agent last
    // merged into each base branch (one merge per base per settle window), and the paces
    // (src/store/pace.ts: GitHub's write pace per installation, LLM requests and tokens per
    // minute, once-per-interval sweeps).
    name: "008-replica-shared-state",
    pg: `
ALTER TABLE automerge_state ADD COLUMN check_signature TEXT;
CREATE TABLE automerge_merges (
  repo TEXT COLLATE bg_nocase NOT NULL,
  base TEXT NOT NULL,
  merged_at BIGINT NOT NULL,
  PRIMARY KEY (repo, base)
);
CREATE TABLE pace (
  key TEXT PRIMARY KEY,
  tat BIGINT NOT NULL
);
`,
    sql: `
ALTER TABLE automerge_state ADD COLUMN check_signature TEXT;
CREATE TABLE automerge_merges (
  repo TEXT NOT NULL COLLATE NOCASE,
  base TEXT NOT NULL,
  merged_at INTEGER NOT NULL,
  PRIMARY KEY (repo, base)
);
CREATE TABLE pace (
  key TEXT PRIMARY KEY,
  tat INTEGER NOT NULL
);
`,
  },
];

export class DatabaseTooNewError extends Error {
  constructor(found: number, known: number, elsewhere = "point BG_DB_PATH at another file") {
    super(
      `The database is at schema version ${found}, but this bg-agent knows only up to ${known}. ` +
        `It was written by a newer bg-agent: upgrade bg-agent, or ${elsewhere}.`,
    );
    this.name = "DatabaseTooNewError";
  }
}

/** Applies every pending migration in one transaction; refuses a database newer than the code. */
export function migrate(
  db: Db,
  list: readonly { name: string; sql: string }[] = migrations,
): number {
  const current = db.userVersion();
  if (current > list.length) throw new DatabaseTooNewError(current, list.length);
  if (current === list.length) return current;
  db.transaction(() => {
    for (const m of list.slice(current)) db.exec(m.sql);
    db.userVersion(list.length);
  })();
  return list.length;
}
