/**
 * A delivery-scoped store (issue #16): on PostgreSQL each webhook delivery is one transaction,
 * its record and every write of its handlers together. The handlers (src/app.ts) are given
 * `scoped.store`; while `scoped.tx(fn)` runs, every call on it — parts and `tx` — goes into that
 * transaction (found through AsyncLocalStorage, so the handlers need no handle passed down).
 * Elsewhere (the worker, the dashboard) and once the transaction has ended, calls go to the root
 * store.
 *
 * A handler's own `tx` inside the delivery is the delivery's transaction itself, not a savepoint
 * (two round trips fewer a delivery): the delivery already makes its writes atomic, and a `tx`
 * that throws fails the whole delivery — its writes are rolled back with everything else, even if
 * the handler caught the error, and the webhook is answered 500 so a redelivery runs it again.
 * Concurrent handlers' `tx` calls take turns, as savepoints would.
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
  /** The handlers' `tx` calls take turns on the delivery's transaction: the last one's end. */
  turn: Promise<void>;
  /** The first error a handler's `tx` threw: the delivery fails with it (rolled back). */
  failed?: { error: unknown };
}

/** What the AsyncLocalStorage holds: the scope, and whether this call runs inside a handler's `tx`. */
interface Frame {
  scope: Scope;
  inTurn: boolean;
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
  const als = new AsyncLocalStorage<Frame>();
  const frame = (): Frame | undefined => {
    const f = als.getStore();
    return f?.scope.open ? f : undefined;
  };
  const current = (): Scope | undefined => frame()?.scope;

  /**
   * A handler's `tx` in the delivery's transaction: it runs on the transaction's handle after the
   * `tx` calls started before it (one nested in another runs at once); if it throws, the delivery
   * is marked failed, so its commit becomes a rollback.
   */
  const joined = <R>(f: Frame, fn: (t: TxStore) => Promise<R>): Promise<R> => {
    const { scope } = f;
    const run = (): Promise<R> =>
      als
        .run({ scope, inTurn: true }, () => fn(scope.t))
        .catch((e: unknown) => {
          scope.failed ??= { error: e };
          throw e;
        });
    if (f.inTurn) return run();
    const result = scope.turn.then(run);
    scope.turn = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
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
      const f = frame();
      return f ? joined(f, fn) : root.tx(fn);
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
      const outer = frame();
      if (outer) return joined(outer, fn);
      const scope: Scope = {
        t: undefined as unknown as TxStore,
        open: true,
        after: [],
        turn: Promise.resolve(),
      };
      let result: R;
      try {
        result = await root.tx(async (t) => {
          scope.t = t;
          const r = await als.run({ scope, inTurn: false }, () => fn(t));
          await scope.turn;
          // A handler's tx failed (and the handler carried on): its writes are in this
          // transaction, so none of the delivery's may commit.
          if (scope.failed) throw scope.failed.error;
          return r;
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
