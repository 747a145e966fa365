import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PgStore } from "../../src/store/postgres/index.js";
import { IdleTransactionTimeoutError } from "../../src/store/postgres/pg-idle-timeout.js";
import { openStoreFromEnv, readStoreEnv, StoreOpenError } from "../../src/store/open.js";
import { isStoreUnavailable } from "../../src/store/unavailable.js";
import {
  dropSchema,
  postgresAvailable,
  TEST_DATABASE_URL,
  throwawayPgStore,
  throwawaySchema,
} from "../helpers/postgres.js";

const up = await postgresAvailable();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const show = async (s: PgStore): Promise<string> =>
  (
    await s.pool.query<{ idle_in_transaction_session_timeout: string }>(
      "SHOW idle_in_transaction_session_timeout",
    )
  ).rows[0]!.idle_in_transaction_session_timeout;

const backendPid = async (s: PgStore): Promise<number> =>
  (await s.pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;

describe("BG_DB_IDLE_TX_TIMEOUT_MS", () => {
  it("is a whole number of ms: 0 (off) or from 1000 to 86400000", () => {
    expect(readStoreEnv({ BG_DB_IDLE_TX_TIMEOUT_MS: "0" }).BG_DB_IDLE_TX_TIMEOUT_MS).toBe(0);
    expect(readStoreEnv({ BG_DB_IDLE_TX_TIMEOUT_MS: "30000" }).BG_DB_IDLE_TX_TIMEOUT_MS).toBe(
      30_000,
    );
    expect(readStoreEnv({}).BG_DB_IDLE_TX_TIMEOUT_MS).toBeUndefined();
    for (const bad of ["abc", "500", "1.5", "-1", "86400001"])
      expect(() => readStoreEnv({ BG_DB_IDLE_TX_TIMEOUT_MS: bad })).toThrow(StoreOpenError);
    expect(() => readStoreEnv({ BG_DB_IDLE_TX_TIMEOUT_MS: "500" })).toThrow(
      /BG_DB_IDLE_TX_TIMEOUT_MS must be 0 \(no timeout\) or from 1000 to 86400000 milliseconds/,
    );
  });
});

describe.skipIf(!up)("idle_in_transaction_session_timeout on PostgreSQL", () => {
  it("is 60 s on every pool connection by default", async () => {
    const s = await throwawayPgStore({ poolSize: 2 });
    try {
      // Two connections at once, so both of the pool's are asked.
      const both = await Promise.all([
        s.pool.connect().then(async (c) => {
          try {
            await sleep(50);
            return (await c.query("SHOW idle_in_transaction_session_timeout")).rows[0];
          } finally {
            c.release();
          }
        }),
        s.pool.connect().then(async (c) => {
          try {
            await sleep(50);
            return (await c.query("SHOW idle_in_transaction_session_timeout")).rows[0];
          } finally {
            c.release();
          }
        }),
      ]);
      expect(both).toEqual([
        { idle_in_transaction_session_timeout: "1min" },
        { idle_in_transaction_session_timeout: "1min" },
      ]);
    } finally {
      await s.close();
    }
  });

  it("comes from BG_DB_IDLE_TX_TIMEOUT_MS; 0 turns it off", async () => {
    for (const [ms, shown] of [
      ["5000", "5s"],
      ["0", "0"],
    ] as const) {
      const schema = throwawaySchema();
      const s = (await openStoreFromEnv({
        DATABASE_URL: TEST_DATABASE_URL,
        BG_DB_SCHEMA: schema,
        BG_DB_IDLE_TX_TIMEOUT_MS: ms,
      })) as PgStore;
      try {
        expect(await show(s)).toBe(shown);
      } finally {
        await s.close();
        await dropSchema(schema);
      }
    }
  });

  describe("a transaction left idle past a short timeout", () => {
    let s: PgStore;
    beforeAll(async () => {
      // One connection: the one the transaction held is the one the pool would hand out next.
      s = await throwawayPgStore({ poolSize: 1, idleTxTimeoutMs: 300 });
    });
    afterAll(async () => s?.close());

    it("is ended by the server: the next statement throws IdleTransactionTimeoutError, nothing is committed", async () => {
      expect(await show(s)).toBe("300ms");
      const pid = await backendPid(s);
      const err = await s
        .tx(async (t) => {
          await t.deliveries.record({ id: "idle-1", event: "issues", action: null, repo: "o/r" });
          await sleep(900); // a handler waiting on GitHub
          await t.repos.get("o/r");
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IdleTransactionTimeoutError);
      expect(isStoreUnavailable(err)).toBe(true); // a webhook is answered 503, nothing recorded
      expect((err as Error).message).toBe(
        "PostgreSQL ended the transaction: it was idle longer than the 300 ms idle_in_transaction_session_timeout (BG_DB_IDLE_TX_TIMEOUT_MS); nothing of it was committed",
      );
      expect(((err as Error).cause as { code?: string }).code).toBe("25P03");
      expect(await s.deliveries.has("idle-1")).toBe(false);
      // The broken connection was not put back: the pool's next one is a new backend, and works.
      const next = await backendPid(s);
      expect(next).not.toBe(pid);
      expect(s.pool.totalCount).toBe(1);
      await s.tx(async (t) => {
        await t.deliveries.record({ id: "idle-2", event: "issues", action: null, repo: "o/r" });
      });
      expect(await s.deliveries.has("idle-2")).toBe(true);
    });

    it("a handler that idles and then returns fails at COMMIT with the same error", async () => {
      const err = await s
        .tx(async (t) => {
          await t.deliveries.record({ id: "idle-3", event: "issues", action: null, repo: null });
          await sleep(900);
          return "done";
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IdleTransactionTimeoutError);
      expect(await s.deliveries.has("idle-3")).toBe(false);
      expect(await s.ping()).toBeUndefined();
    });

    it("statements close together are not affected: the timeout is between statements, not the transaction's length", async () => {
      await s.tx(async (t) => {
        for (let i = 0; i < 6; i++) {
          await t.deliveries.record({ id: `busy-${i}`, event: "issues", action: null, repo: null });
          await sleep(100);
        }
      });
      expect(await s.deliveries.has("busy-5")).toBe(true);
    });
  });
});
