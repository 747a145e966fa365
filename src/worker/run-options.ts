import { createTokenClient } from "../integrations/github.js";
import { resolveLlmSettings } from "../llm/settings.js";
import type { LlmInput } from "../llm/settings.js";
import type { Llm } from "../llm/types.js";
import type { Logger } from "../log.js";
import type { Db } from "../store/db.js";
import { linearFor } from "./linear-gateway.js";
import type { RunOnceOptions } from "./standalone.js";
import type { Mode, Processor, ProcessorContext } from "../core/worker-contract.js";

/**
 * What the Action (its inputs) and the CLI (its flags and environment) have parsed: everything a
 * one-shot worker run needs, before any client is built.
 */
export interface RunInputs {
  /** owner/name */
  repo: string;
  mode: Mode;
  dryRun: boolean;
  github: {
    token: string;
    /** Default https://api.github.com. */
    apiUrl?: string | undefined;
    userAgent?: string | undefined;
    /** Retries with backoff (default on); tests turn them off so an unanswered request fails at once. */
    retries?: boolean | undefined;
  };
  llm: LlmInput;
  linear: { apiKey?: string | undefined; apiUrl?: string | undefined };
  openDb: () => Promise<Db>;
  log: Logger;
  workspace: string;
  configPath?: string | undefined;
  configExtendsAllow: readonly string[];
  maxCostUsd?: number | undefined;
  /** Lease owner id, e.g. `runner:<run id>:<attempt>` or `cli:<pid>`. */
  owner: string;
  runUrl?: string | undefined;
  activityRecheckSeconds?: number | undefined;
  processors?: readonly Processor[] | undefined;
  createLlm?: ((ctx: ProcessorContext) => Llm) | undefined;
}

/** The runner's options from parsed inputs: the one place the Action and the CLI build them. */
export function runOptions(i: RunInputs): RunOnceOptions {
  const linear = linearFor(i.linear.apiKey, i.linear.apiUrl);
  return {
    repo: i.repo,
    mode: i.mode,
    dryRun: i.dryRun,
    octokit: createTokenClient({
      token: i.github.token,
      baseUrl: i.github.apiUrl ?? "https://api.github.com",
      fetch: (...a: Parameters<typeof fetch>) => globalThis.fetch(...a),
      ...(i.github.userAgent ? { userAgent: i.github.userAgent } : {}),
      ...(i.github.retries !== undefined ? { retries: i.github.retries } : {}),
    }),
    openDb: i.openDb,
    log: i.log,
    llm: resolveLlmSettings(i.llm),
    ...(i.createLlm ? { createLlm: i.createLlm } : {}),
    ...(linear ? { linear } : {}),
    workspace: i.workspace,
    ...(i.configPath ? { configPath: i.configPath } : {}),
    configExtendsAllow: i.configExtendsAllow,
    ...(i.maxCostUsd !== undefined ? { runCapUsd: i.maxCostUsd } : {}),
    ...(i.processors ? { processors: i.processors } : {}),
    owner: i.owner,
    ...(i.runUrl ? { runUrl: i.runUrl } : {}),
    ...(i.activityRecheckSeconds !== undefined
      ? { activityRecheckMs: i.activityRecheckSeconds * 1000 }
      : {}),
  };
}
