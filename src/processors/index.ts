import type { Processor } from "../core/worker-contract.js";
import { createRegisteredProcessors } from "./registry.js";

/**
 * Every task type's processor (one per kind of src/core/task-kinds.ts, bound in ./registry.ts).
 * The app, the CLI and the Action all run this same list.
 */
export function createProcessors(): Processor[] {
  return createRegisteredProcessors();
}
