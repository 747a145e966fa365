/**
 * The setup the fix tests share: for each test a fresh repository (a bare `origin` and a runner's
 * checkout, ./fixture.ts) and an in-memory store, the repository removed after the test; and the
 * fix processor run on one task against them.
 */
import { afterEach, beforeEach } from "vitest";
import { createFixProcessor } from "../../src/processors/fix/index.js";
import type { FixDeps } from "../../src/processors/fix/index.js";
import type { LinearGateway } from "../../src/integrations/linear-types.js";
import type { Store } from "../../src/store/index.js";
import type { Task } from "../../src/core/domain.js";
import type { TaskOutcome } from "../../src/core/worker-contract.js";
import { testCtx } from "../helpers/context.js";
import { fakeLlm } from "../helpers/fake-llm.js";
import { memoryStore } from "../helpers/store.js";
import type { RepoFixture } from "./fixture.js";
import { REPO, makeRepo } from "./fixture.js";

/** The config most fix tests run with: the fixture's `node test.js`. */
export const TESTED = { fix: { test_command: "node test.js", timeout: "30s" } };

/** The current test's repository and store. */
export interface FixTestBed {
  readonly fx: RepoFixture;
  readonly store: Store;
}

/** Registers the hooks that give each test of the file its own repository and store. */
export function fixTestBed(): FixTestBed {
  let fx: RepoFixture | undefined;
  let store: Store | undefined;
  beforeEach(async () => {
    fx = makeRepo();
    store = await memoryStore();
  });
  afterEach(() => {
    fx?.cleanup();
    fx = undefined;
  });
  const current = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`the fix test bed's ${what} exists only inside a test`);
    return v;
  };
  return {
    get fx() {
      return current(fx, "repository");
    },
    get store() {
      return current(store, "store");
    },
  };
}

export interface RunFixOptions {
  replies: Parameters<typeof fakeLlm>[0];
  /** Default: TESTED. */
  config?: unknown;
  /** false: no GITHUB_WORKSPACE checkout (the processor clones). */
  workspace?: boolean;
  dryRun?: boolean;
  linear?: LinearGateway;
  deps?: FixDeps;
}

/** Runs the fix processor on `task`, pushing to the fixture's bare remote; the LLM answers `replies`. */
export async function runFix(
  bed: FixTestBed,
  task: Task,
  o: RunFixOptions,
): Promise<{ outcome: TaskOutcome; llm: ReturnType<typeof fakeLlm> }> {
  const { fx, store } = bed;
  const llm = fakeLlm(o.replies);
  const ctx = await testCtx(store, REPO, {
    config: o.config ?? TESTED,
    llm,
    ...(o.workspace === false ? {} : { workspace: fx.checkout }),
    dryRun: o.dryRun ?? false,
  });
  if (o.linear) ctx.env.linear = o.linear;
  const processor = createFixProcessor({
    tmpRoot: fx.tmp,
    remote: async () => ({ url: fx.bare }),
    ...o.deps,
  });
  const outcomes = await processor.process(ctx, [task]);
  return { outcome: outcomes.get(task.id)!, llm };
}
