/**
 * The store every core function takes: the async contract (./contract.ts). Its SQLite
 * implementation (better-sqlite3, or sql.js in the Action) is ./sqlite-store.ts: the synchronous
 * part classes of this folder behind the adapter of ./async-adapter.ts. All SQL lives in src/store.
 */
export type { Store, StoreParts, TxStore, StoreDialect, IntakeCommit } from "./contract.js";
export type { SqliteStore } from "./sqlite-store.js";
export {
  createAsyncStore as createStore,
  openAsyncStore as openStore,
  migrateSqlite,
} from "./sqlite-store.js";
export type { Db } from "./db.js";
