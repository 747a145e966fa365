/**
 * What one run knows and has spent, held on the worker's environment (`env.run`) instead of in
 * module-level WeakMaps keyed by it. A runner (standalone, connected, the CLI) creates one per
 * run; the app creates one at start-up, so its memos live as long as the process (each owner
 * bounds its own: the check run report goes idle, the repository head expires).
 */
export interface RunState {
  /** USD this run's LLM calls have spent, plus the estimates of calls still in flight. */
  spentUsd: number;
  /** The memo a module keeps for this run under `slot`, created on first use. */
  memo<T>(slot: RunSlot<T>): T;
}

/** A module's typed place in the run: `runSlot("repo-head", () => new Map())`. */
export interface RunSlot<T> {
  readonly name: string;
  create(): T;
}

export const runSlot = <T>(name: string, create: () => T): RunSlot<T> => ({ name, create });

export function createRunState(): RunState {
  const memos = new Map<RunSlot<unknown>, unknown>();
  return {
    spentUsd: 0,
    memo<T>(slot: RunSlot<T>): T {
      if (!memos.has(slot)) memos.set(slot, slot.create());
      return memos.get(slot) as T;
    },
  };
}
