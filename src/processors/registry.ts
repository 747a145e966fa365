/**
 * The processor half of the task-kind registry (src/core/task-kinds.ts declares the rest): for
 * each task type, the zod schema of its tasks' payload and the processor that carries them out.
 * A mapped type over TaskType: a kind added to the registry without a binding here does not
 * compile.
 */
import type { z } from "zod";
import { commandProcessor } from "../commands/processor.js";
import { commandPayloadSchema } from "../commands/types.js";
import type { TaskType } from "../core/task-kinds.js";
import { ORDER } from "../core/task-kinds.js";
import type { Processor } from "../core/worker-contract.js";
import { createAnalysisProcessor } from "./analysis/index.js";
import { analysisPayloadSchema } from "./analysis/schema.js";
import { createAutomergeProcessor } from "./automerge/index.js";
import {
  payloadSchema as configCheckPayloadSchema,
  createConfigCheckProcessor,
} from "./config-check/index.js";
import { prPayload, shaPayload } from "./automerge/processor.js";
import { createFixProcessor } from "./fix/index.js";
import { payloadSchema as fixPayloadSchema } from "./fix/approved-plan.js";
import { revisionPayloadSchema } from "./fix/revision-request.js";
import {
  createDiscoveryProcessor,
  payloadSchema as discoveryPayloadSchema,
} from "./discovery/index.js";
import { createPromptTaskProcessor } from "./prompt-task/index.js";
import { payloadSchema as promptTaskPayloadSchema } from "./prompt-task/index.js";

export interface ProcessorBinding {
  /** What a task of this type carries (the processor parses it; a bad payload fails the task). */
  payload: z.ZodType;
  /** The processor with its default dependencies (the app, the CLI and the Action run these). */
  create(): Processor;
}

export const PROCESSOR_BINDINGS: { readonly [T in TaskType]: ProcessorBinding } = {
  command: { payload: commandPayloadSchema, create: commandProcessor },
  automerge: {
    // `pr:<n>` tasks carry the pull request; `sha:<sha>` tasks (a status or check event) the head SHA.
    payload: prPayload.or(shaPayload),
    create: () => createAutomergeProcessor(),
  },
  // A fix of an issue (`issue:<n>`), or a revision round of its pull request (`pr:<n>`).
  fix: { payload: revisionPayloadSchema.or(fixPayloadSchema), create: () => createFixProcessor() },
  tech_debt_analysis: { payload: analysisPayloadSchema, create: () => createAnalysisProcessor() },
  prompt_task: { payload: promptTaskPayloadSchema, create: () => createPromptTaskProcessor() },
  config_check: { payload: configCheckPayloadSchema, create: createConfigCheckProcessor },
  discovery: { payload: discoveryPayloadSchema, create: createDiscoveryProcessor },
};

/** Every task type's processor, in the pass's order. */
export const createRegisteredProcessors = (): Processor[] =>
  ORDER.map((t) => PROCESSOR_BINDINGS[t].create());
