import { createStore } from "../../src/store/index.js";
import type { Store } from "../../src/store/index.js";
import { openSqlite } from "../../src/store/db.js";

/** A fresh, migrated in-memory store. */
export async function memoryStore(): Promise<Store> {
  return createStore(await openSqlite({ path: ":memory:" }));
}
