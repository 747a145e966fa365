import type { ConfigProblem } from "../config/load.js";
import { validateTask } from "../config/load.js";
import type { RepoConfig } from "../config/schema.js";
import type { Store } from "../store/index.js";
import type { Proposal } from "../store/proposals.js";
import type { Schedule } from "../store/schedules.js";
import { parseDuration } from "../util/duration.js";
import { specOf } from "./due.js";
import { initialState, specHashOf } from "./sync.js";

export const taskTarget = (name: string): string => `task:${name}`;

export type ProposeResult =
  | { ok: true; proposal: Proposal; schedule: Schedule }
  /** The definition does not validate, the name is taken, or the same one was rejected before. */
  | { ok: false; why: string; problems?: ConfigProblem[] };

/**
 * bg-agent proposes a task: validated exactly like a config task (schema, tools allow-list,
 * min_interval), stored as a schedule in status `proposed` that never runs until a person
 * approves it (`/bg approve` -> approveTask). The proposal (kind `task`, target `task:<name>`,
 * content hash = the spec hash) lets a rejected definition stay rejected. `on.issue` is the issue
 * the proposal is posted on (payload `issue`): a plain `/bg approve` / `/bg reject` there finds it.
 */
export async function proposeTask(
  store: Store,
  repo: string,
  config: RepoConfig,
  raw: unknown,
  now = Date.now(),
  on: { issue?: number } = {},
): Promise<ProposeResult> {
  const minMs = parseDuration(config.schedule.min_interval) ?? 300_000;
  const v = validateTask(raw, ["task"], minMs, config.schedule.min_interval);
  if (!v.ok) return { ok: false, why: "the proposed task does not validate", problems: v.problems };
  const task = v.task;
  const specHash = specHashOf(task);
  return await store.tx(async (t) => {
    const existing = await t.schedules.get(repo, task.name);
    if (existing && existing.origin === "config") {
      return {
        ok: false as const,
        why: `a task named ${task.name} is declared in .github/bg-agent.yml`,
      };
    }
    if (existing && existing.status !== "proposed") {
      return { ok: false as const, why: `a proposed task named ${task.name} was approved already` };
    }
    if (!existing && (await t.schedules.list(repo)).length >= config.tasks_max) {
      return {
        ok: false as const,
        why: `this repository has ${config.tasks_max} tasks already (tasks_max: ${config.tasks_max})`,
      };
    }
    const proposal = await t.proposals.propose(
      {
        repo,
        kind: "task",
        target: taskTarget(task.name),
        contentHash: specHash,
        payload: { spec: task, ...(on.issue !== undefined ? { issue: on.issue } : {}) },
      },
      now,
    );
    if (proposal.status === "rejected") {
      return { ok: false as const, why: `this definition of ${task.name} was rejected before` };
    }
    const spec = task as unknown as Record<string, unknown>;
    let schedule: Schedule;
    if (existing) {
      await t.schedules.update(
        existing.id,
        { spec, specHash, maxRuns: task.max_runs ?? null, nextRunAt: null },
        now,
      );
      schedule = (await t.schedules.byId(existing.id))!;
    } else {
      schedule = await t.schedules.create(
        {
          repo,
          name: task.name,
          spec,
          specHash,
          origin: "proposed",
          status: "proposed",
          nextRunAt: null,
          maxRuns: task.max_runs ?? null,
        },
        now,
      );
    }
    return { ok: true as const, proposal, schedule };
  });
}

/** `/bg approve` on a task proposal: the schedule becomes active (first run per its trigger). */
export async function approveTask(
  store: Store,
  repo: string,
  name: string,
  by: string,
  now = Date.now(),
): Promise<{ ok: true; schedule: Schedule } | { ok: false; why: string }> {
  return await store.tx(async (t) => {
    const s = await t.schedules.get(repo, name);
    const p = await t.proposals.latest(repo, taskTarget(name), "task");
    if (!s || s.status !== "proposed" || !p || p.status !== "proposed") {
      return { ok: false as const, why: `there is no proposed task named ${name}` };
    }
    const spec = specOf(s);
    if (!spec || p.contentHash !== s.specHash) {
      return {
        ok: false as const,
        why: `the proposal for ${name} does not match its definition any more`,
      };
    }
    await t.proposals.decide(p.id, "approved", by, null, now);
    await t.schedules.update(
      s.id,
      { ...initialState(spec, now), consecutiveFailures: 0, runCount: 0 },
      now,
    );
    return { ok: true as const, schedule: (await t.schedules.byId(s.id))! };
  });
}

/** `/bg reject` on a task proposal: the proposal is rejected and the proposed schedule removed. */
export async function rejectTask(
  store: Store,
  repo: string,
  name: string,
  by: string,
  reason: string | null = null,
  now = Date.now(),
): Promise<boolean> {
  return await store.tx(async (t) => {
    const s = await t.schedules.get(repo, name);
    const p = await t.proposals.latest(repo, taskTarget(name), "task");
    if (!s || s.status !== "proposed" || !p || p.status !== "proposed") return false;
    await t.proposals.decide(p.id, "rejected", by, reason, now);
    await t.schedules.delete(s.id);
    return true;
  });
}
