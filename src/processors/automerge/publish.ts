import type { Store } from "../../store/index.js";
import type { Task } from "../../core/domain.js";
import type { MergeApi } from "./merge-api.js";
import type { Report } from "./decide.js";
import { CHECK_NAME, checkRunSummary, conditionLine } from "./report.js";
import type { Evaluation } from "./types.js";

/** Where a PR's report goes: its check run (through the MergeApi), the store's state and run rows. */
export interface ReportTarget {
  api: MergeApi;
  store: Store;
  repoName: string;
  task: Task | null;
}

export type Publish = (t: ReportTarget, ev: Evaluation, r: Report) => Promise<void>;

/**
 * The report layer: publishes the check run (only when the evaluation or report changed since the
 * last one published for this PR by any replica: the signature is kept in the PR's automerge
 * state), saves the PR's automerge state and records the run.
 */
export function createPublisher(): Publish {
  return async ({ api, store, repoName, task }, ev, r) => {
    const s = ev.snapshot;
    const firstUnmet = ev.firstUnmet ? conditionLine(ev.firstUnmet) : null;
    const signature = JSON.stringify([
      s.headSha,
      r.state,
      r.next,
      ev.conditions.map((c) => [c.id, c.met, c.detail]),
    ]);
    const prior = await store.automerge.get(repoName, s.number);
    if (prior?.checkSignature !== signature) {
      await api.publishCheck({
        name: CHECK_NAME,
        headSha: s.headSha,
        conclusion: r.conclusion,
        title: r.headline.slice(0, 250),
        summary: checkRunSummary(ev, r.headline, r.next),
      });
    }
    await store.automerge.save({
      repo: repoName,
      pr: s.number,
      headSha: s.headSha,
      state: r.state,
      firstUnmet,
      conditions: ev.conditions.map((c) => ({ id: c.id, met: c.met, detail: c.detail })),
      checkSignature: signature,
    });
    await store.runs.record({
      repo: repoName,
      kind: "automerge",
      ref: `pr:${s.number}`,
      url: s.url,
      taskId: task?.id ?? null,
      status: r.run,
      summary: `${r.headline}. ${r.next}`.slice(0, 1000),
    });
  };
}
