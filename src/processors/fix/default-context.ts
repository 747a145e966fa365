import { assembleContext, workspaceSource } from "../../context/project-context.js";
import type { ProcessorContext } from "../../core/worker-contract.js";

/** Builds the project context (the cached prompt prefix) from the fix's working tree. */
export type ProjectContextFn = (root: string, ctx: ProcessorContext) => Promise<string>;

/**
 * The same context analysis uses (src/context/project-context.ts), read from the fix's working
 * tree, which is the default branch head: so a fix's first message matches the analysis prefix.
 */
export const defaultProjectContext: ProjectContextFn = async (root, ctx) => {
  const c = await assembleContext(workspaceSource(ctx.repoName, root), {
    include: ctx.config.tech_debt.context.include,
    maxTokens: ctx.config.tech_debt.context.max_tokens,
    mapTokens: ctx.config.tech_debt.context.map_tokens,
    log: ctx.log,
  });
  return c.text;
};
