/**
 * The async contract (src/store/contract.ts) over the synchronous SQLite part classes.
 *
 * Every part method becomes a function returning a settled promise: the SQL runs at once, on the
 * caller's turn (no promise is created per call beyond the one returned). A transaction holds a
 * mutex from its BEGIN to its COMMIT: while one is open (its callback awaits between statements),
 * calls on the store itself and other transactions wait for it, in order; only calls through its
 * handle `t` run. A nested `t.tx` is a savepoint. Whoever must not act inside an open transaction
 * (the intake's group COMMIT) asks `gate.whenIdle`.
 */
import type { StoreParts, TxStore } from "./contract.js";
import type { Db } from "./db.js";

/** The synchronous implementation of each part (the classes in this folder). */
export type SyncParts = { [K in keyof StoreParts]: object };

/** The mutex between the store's transactions, and who waits for none to be open. */
export class TxGate {
  private locked = false;
  private readonly queue: { call?: () => void; start?: () => void }[] = [];
  private idle: (() => void)[] = [];

  /** True while a transaction is open (or about to start, handed the mutex). */
  get busy(): boolean {
    return this.locked;
  }

  /** Runs `fn` when no transaction is open: now, or as the current one ends (before the next starts). */
  whenIdle(fn: () => void): void {
    if (!this.locked) fn();
    else this.idle.push(fn);
  }

  /** Takes the mutex if it is free (true), without a promise. */
  tryAcquire(): boolean {
    if (this.locked) return false;
    this.locked = true;
    return true;
  }

  /** Resolves holding the mutex. */
  acquire(): Promise<void> {
    if (!this.locked) {
      this.locked = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.queue.push({ start: resolve }));
  }

  /** Runs `fn` (a single statement: synchronous) as soon as no transaction is open. */
  after<R>(fn: () => R): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({
        call: () => {
          try {
            resolve(fn());
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        },
      });
    });
  }

  /** Ends the holder's turn: the idle hooks run, the waiting calls, then the next transaction starts. */
  release(): void {
    for (;;) {
      this.locked = false;
      if (this.idle.length) {
        const idle = this.idle;
        this.idle = [];
        for (const f of idle) f();
      }
      const next = this.queue.shift();
      if (!next) return;
      if (next.call) {
        next.call();
        continue;
      }
      this.locked = true;
      next.start!();
      return;
    }
  }
}

type Method = (...args: unknown[]) => unknown;

const namesOf = new WeakMap<object, string[]>();

/** The part's public method names (cached per class: a tx builds its handle from them). */
function methodNames(part: object): string[] {
  const proto = Object.getPrototypeOf(part) as object;
  const hit = namesOf.get(proto);
  if (hit) return hit;
  const names: string[] = [];
  for (let p = Object.getPrototypeOf(part) as object | null; p && p !== Object.prototype;) {
    for (const n of Object.getOwnPropertyNames(p)) {
      if (n !== "constructor" && !names.includes(n)) names.push(n);
    }
    p = Object.getPrototypeOf(p) as object | null;
  }
  namesOf.set(proto, names);
  return names;
}

/** A settled promise of `fn()`: its value, or its exception as a rejection. */
function settle(part: object, fn: Method, args: unknown[]): Promise<unknown> {
  try {
    return Promise.resolve(fn.apply(part, args));
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

/** The store's own view: a call waits while a transaction is open. */
function topLevel(part: object, gate: TxGate): object {
  const out: Record<string, Method> = {};
  for (const name of methodNames(part)) {
    // Looked up per call (a test may replace a method of the synchronous part).
    const methods = part as Record<string, Method>;
    out[name] = (...args) =>
      gate.busy
        ? gate.after(() => methods[name]!.apply(part, args))
        : settle(part, methods[name]!, args);
  }
  return out;
}

interface TxState {
  open: boolean;
}

/**
 * A transaction's view of one part, built once per part: its methods live on a prototype and read
 * the transaction's state from the per-tx object (`Object.create(proto)` per part and tx, not a
 * closure per method and tx). Calls run at once, and only while that transaction is open.
 */
function insideProto(part: object): new (s: TxState) => object {
  // A plain constructor: `new View(state)` is far cheaper than Object.create with descriptors.
  const View = function (this: { s: TxState }, s: TxState) {
    this.s = s;
  } as unknown as new (s: TxState) => object;
  const proto = View.prototype as Record<string, Method>;
  for (const name of methodNames(part)) {
    const methods = part as Record<string, Method>;
    proto[name] = function (this: { s: TxState }, ...args: unknown[]) {
      return this.s.open
        ? settle(part, methods[name]!, args)
        : Promise.reject(
            new Error(
              `store: ${name}() called through a transaction that has ended; await it inside the tx callback`,
            ),
          );
    };
  }
  return View;
}

function mapParts(sync: SyncParts, wrap: (part: object) => object): StoreParts {
  const out: Record<string, object> = {};
  for (const [k, part] of Object.entries(sync)) out[k] = wrap(part);
  return out as unknown as StoreParts;
}

/** The async parts and `tx` over synchronous parts on one SQLite database. */
export function asyncParts(
  db: Db,
  sync: SyncParts,
): { parts: StoreParts; tx: <R>(fn: (t: TxStore) => Promise<R>) => Promise<R>; gate: TxGate } {
  const gate = new TxGate();
  const parts = mapParts(sync, (p) => topLevel(p, gate));
  const views = Object.entries(sync).map(([k, p]) => [k, insideProto(p)] as const);

  /** One transaction (or savepoint) on the open handle chain; the caller holds the mutex. */
  const run = async <R>(fn: (t: TxStore) => Promise<R>): Promise<R> => {
    const state: TxState = { open: true };
    let nested: Promise<void> | undefined;
    const handle: Record<string, unknown> & Pick<TxStore, "tx"> = {
      tx: <R2>(inner: (t: TxStore) => Promise<R2>): Promise<R2> => {
        if (!state.open) return Promise.reject(new Error("store: tx() on an ended transaction"));
        // Savepoints nest strictly: concurrent nested transactions take turns.
        const turn = nested ? nested.then(() => run(inner)) : run(inner);
        nested = turn.then(
          () => undefined,
          () => undefined,
        );
        return turn;
      },
    };
    for (const [k, View] of views) handle[k] = new View(state);
    const end = db.begin();
    try {
      const result = await fn(handle as unknown as TxStore);
      if (nested) await nested;
      state.open = false;
      end.commit();
      return result;
    } catch (e) {
      state.open = false;
      end.rollback();
      throw e;
    }
  };

  const go = <R>(fn: (t: TxStore) => Promise<R>): Promise<R> =>
    run(fn).then(
      (r) => {
        gate.release();
        return r;
      },
      (e: unknown) => {
        gate.release();
        throw e;
      },
    );
  // Not an async function: no extra promise turns on the free path (the intake's hot path).
  const tx = <R>(fn: (t: TxStore) => Promise<R>): Promise<R> =>
    gate.tryAcquire() ? go(fn) : gate.acquire().then(() => go(fn));
  return { parts, tx, gate };
}
