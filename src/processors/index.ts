import type { Processor } from "../worker/types.js";
import { createAnalysisProcessor } from "./analysis/index.js";

/** Every task type's processor. The app, the CLI and the Action all run this same list. */
export function createProcessors(): Processor[] {
  return [createAnalysisProcessor()];
}
