/**
 * A delivery-scoped store (issue #16): on PostgreSQL each webhook delivery is one transaction,
 * its record and every write of its handlers together. The handlers (src/app.ts) are given
 * `scoped.store`; while `scoped.tx(fn)` runs, every call on it — parts and `tx`, which becomes a
 * savepoint — goes into that transaction (found through AsyncLocalStorage, so the handlers need
 * no handle passed down). Elsewhere (the worker, the dashboard) and once the transaction has
 * ended, calls go to the root store.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Store, StoreParts, TxStore } from "./contract.js";

/**
 * Every part of the contract but `pace` (the compiler checks none is missing). The shared pace is
 * not the delivery's to roll back: a slot it reserved stays reserved, so it always goes to the root.
 */
const PARTS: Record<Exclude<keyof StoreParts, "pace">, true> = {
  deliveries: true,
  repos: true,
  tasks: true,
  activity: true,
  audit: true,
  batches: true,
  spend: true,
  runs: true,
  analyses: true,
  proposals: true,
  schedules: true,
  automerge: true,
  reports: true,
  retention: true,
  stats: true,
  sessions: true,
};

interface Scope {
  t: TxStore;
  open: boolean;
  /** Run once the transaction committed. */
  after: (() => void)[];
}

export interface ScopedStore {
  /** What the handlers are given: inside `tx`, its calls run in that transaction; elsewhere on the root store. */
  readonly store: Store;
  /**
   * One transaction on the root store with `store` routed into it (inside one already: a
   * savepoint of it). Once it committed, the `afterCommit` callbacks queued in it run.
   */
  tx<R>(fn: (t: TxStore) => Promise<R>): Promise<R>;
  /** Runs `fn` once the current transaction commits (never, if it rolls back); outside one, now. */
  afterCommit(fn: () => void): void;
}

type Method = (...args: unknown[]) => unknown;

/** The public methods of a part (its own and its prototype chain's). */
function methodNames(part: object): string[] {
  const names = new Set<string>();
  for (let p: object | null = part; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const n of Object.getOwnPropertyNames(p)) {
      if (n !== "constructor" && typeof (part as Record<string, unknown>)[n] === "function")
        names.add(n);
    }
  }
  return [...names];
}

export function createScopedStore(root: Store): ScopedStore {
  const als = new AsyncLocalStorage<Scope>();
  const current = (): Scope | undefined => {
    const s = als.getStore();
    return s?.open ? s : undefined;
  };

  const parts: Record<string, Record<string, Method>> = {};
  for (const key of Object.keys(PARTS) as (keyof typeof PARTS)[]) {
    const view: Record<string, Method> = {};
    for (const name of methodNames(root[key])) {
      view[name] = (...args) => {
        const part = (current()?.t ?? root)[key] as unknown as Record<string, Method>;
        return part[name]!.apply(part, args);
      };
    }
    parts[key] = view;
  }

  const store: Store = {
    ...(parts as unknown as Omit<StoreParts, "pace">),
    pace: root.pace,
    dialect: root.dialect,
    tx: (fn) => {
      const s = current();
      return s ? s.t.tx(fn) : root.tx(fn);
    },
    close: () => root.close(),
    ...(root.schemaVersion ? { schemaVersion: () => root.schemaVersion!() } : {}),
    ...(root.ping ? { ping: () => root.ping!() } : {}),
    ...(root.groupCommit ? { groupCommit: (opts) => root.groupCommit!(opts) } : {}),
    ...(root.coordination ? { coordination: (opts) => root.coordination!(opts) } : {}),
  };

  return {
    store,
    async tx<R>(fn: (t: TxStore) => Promise<R>): Promise<R> {
      const outer = current();
      if (outer) return outer.t.tx(fn);
      const scope: Scope = { t: undefined as unknown as TxStore, open: true, after: [] };
      let result: R;
      try {
        result = await root.tx((t) => {
          scope.t = t;
          return als.run(scope, () => fn(t));
        });
      } finally {
        scope.open = false;
      }
      for (const f of scope.after) {
        try {
          f();
        } catch {
          // a callback's failure is its own: the transaction committed
        }
      }
      return result;
    },
    afterCommit(fn) {
      const s = current();
      if (s) s.after.push(fn);
      else fn();
    },
  };
}
