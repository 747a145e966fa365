export { createFixProcessor } from "./processor.js";
export type { FixDeps } from "./processor.js";
export type { ProjectContextFn } from "./default-context.js";
export { defaultProjectContext } from "./default-context.js";
