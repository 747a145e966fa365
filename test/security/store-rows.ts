import type { SqliteStore as Store } from "../../src/store/index.js";

/** Rows in every table of the store (migrations' bookkeeping left out): what a request wrote. */
export function rowCounts(store: Store): Record<string, number> {
  const tables = store.db
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .all() as { name: string }[];
  const out: Record<string, number> = {};
  for (const { name } of tables) {
    if (name === "schema_migrations" || name === "migrations") continue;
    const row = store.db.prepare(`SELECT COUNT(*) AS n FROM "${name}"`).get() as { n: number };
    out[name] = row.n;
  }
  return out;
}

/** The total of rowCounts. */
export const totalRows = (store: Store): number =>
  Object.values(rowCounts(store)).reduce((a, b) => a + b, 0);
