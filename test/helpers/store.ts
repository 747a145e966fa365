import { createStore } from "../../src/store/index.js";
import type { SqliteStore } from "../../src/store/index.js";
import { openSqlite } from "../../src/store/db.js";

/** A fresh, migrated in-memory store. */
export async function memoryStore(): Promise<SqliteStore> {
  return createStore(await openSqlite({ path: ":memory:" }));
}
