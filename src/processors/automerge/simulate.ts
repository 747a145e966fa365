import type { ProcessorContext } from "../../worker/types.js";

/** `/bg simulate`: the full automerge evaluation of a PR as Markdown, merging nothing. */
export async function simulateAutomerge(
  _ctx: ProcessorContext,
  _pr: number,
): Promise<{ markdown: string }> {
  throw new Error("not implemented yet");
}
