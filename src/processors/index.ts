import type { Processor } from "../worker/types.js";
import { createPromptTaskProcessor } from "./prompt-task/index.js";

/** Every task type's processor. The app, the CLI and the Action all run this same list. */
export function createProcessors(): Processor[] {
  return [createPromptTaskProcessor()];
}
