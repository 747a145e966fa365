export { createFixProcessor } from "./processor.js";
export type { FixDeps } from "./fix-run.js";
export type { ProjectContextFn } from "./default-context.js";
export { defaultProjectContext } from "./default-context.js";
