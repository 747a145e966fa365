import { afterAll, describe, it } from "vitest";
import { postgresAvailable, throwawayPgStore } from "../../helpers/postgres.js";
import type { PgStore } from "../../../src/store/postgres/index.js";
import { describeStoreContract } from "./describe-store-contract.js";

// One throwaway schema for the file (dropped at the end), emptied between tests.
if (await postgresAvailable()) {
  let shared: PgStore | undefined;
  afterAll(async () => {
    await shared?.close();
  });
  describeStoreContract("postgres", async () => {
    shared ??= await throwawayPgStore({ poolSize: 4 });
    const s = shared;
    const tables = (
      await s.pool.query<{ tablename: string }>(
        "SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename != 'bg_schema_version'",
        [s.schema],
      )
    ).rows.map((r) => `"${r.tablename}"`);
    return {
      ...s,
      close: async () => {
        await s.pool.query(`TRUNCATE ${tables.join(", ")} RESTART IDENTITY CASCADE`);
      },
    };
  });
} else {
  describe.skip("store contract: postgres (no server reachable)", () => {
    it("needs PostgreSQL", () => {});
  });
}
