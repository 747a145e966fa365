import { commandProcessor } from "../commands/processor.js";
import type { Processor } from "../worker/types.js";
import { createAnalysisProcessor } from "./analysis/index.js";
import { createAutomergeProcessor } from "./automerge/index.js";
import { createConfigCheckProcessor } from "./config-check/index.js";
import { createFixProcessor } from "./fix/index.js";
import { createPromptTaskProcessor } from "./prompt-task/index.js";

/** Every task type's processor. The app, the CLI and the Action all run this same list. */
export function createProcessors(): Processor[] {
  return [
    commandProcessor(),
    createConfigCheckProcessor(),
    createAutomergeProcessor(),
    createFixProcessor(),
    createAnalysisProcessor(),
    createPromptTaskProcessor(),
  ];
}
