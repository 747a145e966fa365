import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { migrations } from "../../src/store/migrations.js";
import { poolConfig } from "../../src/store/postgres/index.js";
import { migratePostgres } from "../../src/store/postgres/pg-migrate.js";
import { testPrivateKey } from "../helpers/app-server.js";
import {
  dropSchema,
  postgresAvailable,
  TEST_DATABASE_URL,
  throwawaySchema,
} from "../helpers/postgres.js";

/**
 * Start-up faults from the outside (issue #16): the real entry points (`tsx src/main.ts`,
 * `tsx src/cli.ts`) spawned with a DATABASE_URL that cannot work. Each must print one line naming
 * the host and the database (never the password), exit non-zero, and create no SQLite file.
 */
const up = await postgresAvailable();

const root = fileURLToPath(new URL("../..", import.meta.url));
const tsx = join(root, "node_modules", ".bin", "tsx");
const PASSWORD = "s3cret-pw";

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
  /** What the process left in its working directory. */
  files: string[];
}

/** Runs `tsx <entry> ...args` in a fresh directory with only `env` (and PATH) set. */
function run(entry: string, args: string[], env: Record<string, string>): Promise<Exit> {
  const cwd = mkdtempSync(join(tmpdir(), "bg-start-"));
  return new Promise((resolve, reject) => {
    const child = spawn(tsx, [join(root, entry), ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? "", NODE_ENV: "production", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const files = readdirSync(cwd);
      rmSync(cwd, { recursive: true, force: true });
      resolve({ code, stdout, stderr, files });
    });
  });
}

const appEnv = (databaseUrl: string, extra: Record<string, string> = {}) => ({
  APP_ID: "123",
  PRIVATE_KEY: testPrivateKey(),
  WEBHOOK_SECRET: "test-webhook-secret",
  PORT: "0",
  HOST: "127.0.0.1",
  LOG_LEVEL: "fatal",
  DATABASE_URL: databaseUrl,
  ...extra,
});

/** A loopback port nothing listens on. */
const closedPort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (a && typeof a === "object" ? resolve(a.port) : reject(new Error("no port"))));
    });
  });

const withPassword = (url: string): string => {
  const u = new URL(url);
  u.password = PASSWORD;
  return u.toString();
};

/** The one line a failed start prints, checked for what every such line must (not) say. */
function oneLine(e: Exit): string {
  expect(e.code).toBe(1);
  const lines = e.stderr.split("\n").filter((l) => l.trim());
  expect(lines).toHaveLength(1);
  expect(e.stderr).not.toContain(PASSWORD);
  expect(e.files).toEqual([]); // no ./data/bg-agent.db: no fallback to SQLite
  return lines[0]!;
}

describe.skipIf(!up)("start-up with a DATABASE_URL that cannot work", () => {
  const newer = throwawaySchema();
  const fresh = throwawaySchema();
  afterAll(async () => {
    await dropSchema(newer);
    await dropSchema(fresh);
  });

  it("the app and the CLI each print one line naming host and database, exit 1, and create no SQLite file: a closed port, a missing database, a schema a newer bg-agent migrated", async () => {
    const pool = new pg.Pool(poolConfig({ url: TEST_DATABASE_URL, schema: newer }));
    try {
      await migratePostgres(pool, newer);
      await pool.query("UPDATE bg_schema_version SET version = 999");
    } finally {
      await pool.end();
    }
    const port = await closedPort();
    const closed = `postgres://bg:${PASSWORD}@127.0.0.1:${port}/bgdb`;
    const missingDb = withPassword(TEST_DATABASE_URL.replace(/\/[^/]*$/, "/bg_no_such_db"));
    const host = new URL(TEST_DATABASE_URL).host;

    // Two at a time (two cores): each run loads the app through tsx.
    const [appClosed, appMissing] = await Promise.all([
      run("src/main.ts", [], appEnv(closed)),
      run("src/main.ts", [], appEnv(missingDb)),
    ]);
    const [appNewer, cliClosed] = await Promise.all([
      run("src/main.ts", [], appEnv(withPassword(TEST_DATABASE_URL), { BG_DB_SCHEMA: newer })),
      run("src/cli.ts", ["migrate"], { DATABASE_URL: closed }),
    ]);
    const cliNewer = await run("src/cli.ts", ["status"], {
      DATABASE_URL: withPassword(TEST_DATABASE_URL),
      BG_DB_SCHEMA: newer,
    });

    expect(oneLine(appClosed)).toMatch(
      new RegExp(
        `^bg-agent: cannot open the PostgreSQL store at postgres://127\\.0\\.0\\.1:${port}/bgdb: .*ECONNREFUSED`,
      ),
    );
    expect(oneLine(appMissing)).toMatch(
      new RegExp(
        `^bg-agent: cannot open the PostgreSQL store at postgres://${host}/bg_no_such_db: database "bg_no_such_db" does not exist`,
      ),
    );
    const tooNew = `schema version 999, but this bg-agent knows only up to ${migrations.length}`;
    expect(oneLine(appNewer)).toContain(tooNew);
    expect(oneLine(appNewer)).toContain(`(schema ${newer})`);
    expect(oneLine(cliClosed)).toMatch(
      new RegExp(
        `^bg-agent: cannot open the PostgreSQL store at postgres://127\\.0\\.0\\.1:${port}/bgdb`,
      ),
    );
    expect(oneLine(cliNewer)).toContain(tooNew);
  }, 180_000);

  it("bg-agent migrate creates the tables on PostgreSQL, then finds them current; status reads them", async () => {
    // In process (the same main() the binary runs): the spawned runs above cover the entry point.
    const env = { DATABASE_URL: TEST_DATABASE_URL, BG_DB_SCHEMA: fresh };
    const cli = async (args: string[]) => {
      const out = { stdout: "", stderr: "" };
      const code = await main(args, env, {
        stdout: (t) => (out.stdout += t),
        stderr: (t) => (out.stderr += t),
      });
      return { code, ...out };
    };
    const first = await cli(["migrate"]);
    expect(first).toMatchObject({ code: 0, stderr: "" });
    expect(first.stdout).toContain(
      `(schema ${fresh}): created the tables at schema version ${migrations.length}`,
    );
    const again = await cli(["migrate"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`schema version ${migrations.length}, already current`);
    const status = await cli(["status"]);
    expect(status).toMatchObject({ code: 0, stdout: expect.stringContaining("No tasks.") });
  });
});
