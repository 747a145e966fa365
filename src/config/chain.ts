import type { TaskConfig } from "./schema.js";

/** The task an `after:` names, and on which outcome. */
export const afterOf = (
  t: Pick<TaskConfig, "after">,
): { task: string; when: "success" | "failure" } | null =>
  t.after === undefined
    ? null
    : typeof t.after === "string"
      ? { task: t.after, when: "success" }
      : { task: t.after.task, when: t.after.when };

/**
 * `after:` problems across a file's tasks: an `after:` naming a task that is not declared (or
 * did not validate), and chains that loop back on themselves (each task of the cycle is named).
 * Returns the indexes (into `tasks`) of the tasks to drop, with why.
 */
export function chainProblems(tasks: readonly TaskConfig[]): { index: number; message: string }[] {
  const byName = new Map(tasks.map((t, i) => [t.name, i]));
  const out: { index: number; message: string }[] = [];
  tasks.forEach((t, i) => {
    const a = afterOf(t);
    if (!a) return;
    if (a.task === t.name) {
      out.push({ index: i, message: `after: ${t.name} names itself (a cycle)` });
      return;
    }
    if (!byName.has(a.task)) {
      const declared = tasks.map((x) => x.name).filter((n) => n !== t.name);
      out.push({
        index: i,
        message: `after: no task named \`${a.task}\` is declared${declared.length ? ` (tasks: ${declared.join(", ")})` : ""}`,
      });
      return;
    }
    // Follow the chain upward: reaching this task again is a cycle.
    const path = [t.name];
    let cur = afterOf(tasks[byName.get(a.task)!]!) ? a.task : null;
    const seen = new Set([t.name]);
    while (cur !== null) {
      path.push(cur);
      if (cur === t.name) {
        out.push({ index: i, message: `after: a cycle: ${path.reverse().join(" → ")}` });
        return;
      }
      if (seen.has(cur)) return; // a cycle not through this task: reported on its own members
      seen.add(cur);
      const up = afterOf(tasks[byName.get(cur)!]!);
      cur = up && byName.has(up.task) ? up.task : null;
    }
  });
  return out;
}
