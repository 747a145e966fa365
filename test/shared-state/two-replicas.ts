/**
 * Two replicas' stores: two PostgreSQL store handles (each its own pool, as two app processes
 * have) on one throwaway schema, dropped by `close()`.
 */
import { openPostgresStore } from "../../src/store/postgres/index.js";
import type { PgStore } from "../../src/store/postgres/index.js";
import type { Store } from "../../src/store/index.js";
import { dropSchema, TEST_DATABASE_URL, throwawaySchema } from "../helpers/postgres.js";

export interface TwoReplicas {
  a: Store;
  b: Store;
  /** The same handles as PostgreSQL stores (pool, schema, coordination). */
  pg: [PgStore, PgStore];
  close(): Promise<void>;
}

/**
 * PgStore's transaction handle has no nested `tx` (feat/pgwire makes it a full Store); these
 * tests never open a transaction through it, so it is used as the Store core code takes.
 */
const asStore = (s: PgStore): Store => s as unknown as Store;

export async function twoReplicas(): Promise<TwoReplicas> {
  const schema = throwawaySchema();
  const a = await openPostgresStore({ url: TEST_DATABASE_URL, schema, poolSize: 3 });
  const b = await openPostgresStore({ url: TEST_DATABASE_URL, schema, poolSize: 3 });
  return {
    a: asStore(a),
    b: asStore(b),
    pg: [a, b],
    close: async () => {
      await a.close();
      await b.close();
      await dropSchema(schema);
    },
  };
}
