import { describe, expect, it } from "vitest";
import { InProcessCoordination } from "../../src/store/coordination.js";
import type { Coordination } from "../../src/store/coordination.js";
import { PgCoordination } from "../../src/store/postgres/pg-coordination.js";
import { postgresAvailable, TEST_DATABASE_URL, throwawaySchema } from "../helpers/postgres.js";

const up = await postgresAvailable();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out");
    await sleep(10);
  }
}

function suite(name: string, pair: () => [Coordination, Coordination]) {
  describe(`coordination: ${name}`, () => {
    it("one holder per repository (case-insensitive) at a time; others get null until release", async () => {
      const [a, b] = pair();
      try {
        const l = await a.tryRepoLock("Org/Repo");
        expect(l).not.toBeNull();
        expect(await b.tryRepoLock("org/repo")).toBeNull();
        const other = await b.tryRepoLock("org/other");
        expect(other).not.toBeNull();
        await l!.release();
        const again = await b.tryRepoLock("ORG/REPO");
        expect(again).not.toBeNull();
        await again!.release();
        await other!.release();
      } finally {
        await a.close();
        if (b !== a) await b.close();
      }
    });

    it("withRepoLock serialises passes over one repository", async () => {
      const [a, b] = pair();
      try {
        let inside = 0;
        let most = 0;
        const pass = (c: Coordination) =>
          c.withRepoLock("o/r", async () => {
            most = Math.max(most, ++inside);
            await sleep(20);
            inside--;
          });
        await Promise.all([pass(a), pass(b), pass(a), pass(b)]);
        expect(most).toBe(1);
      } finally {
        await a.close();
        if (b !== a) await b.close();
      }
    });

    it("a notification reaches the listeners of the channel only", async () => {
      const [a, b] = pair();
      try {
        const got: string[] = [];
        const other: string[] = [];
        await b.listen("wake", (p) => got.push(p));
        await b.listen("other", (p) => other.push(p));
        await a.notify("wake", "o/r");
        await eventually(() => got.length === 1);
        expect(got).toEqual(["o/r"]);
        expect(other).toEqual([]);
      } finally {
        await a.close();
        if (b !== a) await b.close();
      }
    });
  });
}

suite("in-process", () => {
  const c = new InProcessCoordination();
  return [c, c];
});

if (up) {
  suite("postgres, two replicas", () => {
    const schema = throwawaySchema();
    return [
      new PgCoordination({ url: TEST_DATABASE_URL, schema }),
      new PgCoordination({ url: TEST_DATABASE_URL, schema }),
    ];
  });

  describe("coordination: postgres listener", () => {
    it("reconnects and listens again after its connection is killed", async () => {
      const schema = throwawaySchema();
      const a = new PgCoordination({ url: TEST_DATABASE_URL, schema });
      const b = new PgCoordination({ url: TEST_DATABASE_URL, schema });
      try {
        const got: string[] = [];
        await b.listen("wake", (p) => got.push(p));
        await a.notify("wake", "1");
        await eventually(() => got.length === 1);
        const pg = await import("pg");
        const admin = new pg.default.Client({ connectionString: TEST_DATABASE_URL });
        await admin.connect();
        await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN "${schema}:%'`,
        );
        await admin.end();
        await eventually(() => {
          void a.notify("wake", "2");
          return got.includes("2");
        }, 8000);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}
