import * as core from "@actions/core";
import type { Llm } from "../../src/llm/types.js";
import type { Db } from "../../src/store/db.js";
import { openSqlJs } from "../../src/store/sqljs.js";
import { AppUnreachableError, runConnected } from "../../src/worker/connected.js";
import type { RunSummary } from "../../src/worker/runner.js";
import type { RunOnceOptions } from "../../src/worker/standalone.js";
import { RunError, runStandalone } from "../../src/worker/standalone.js";
import { readTriggerEvent } from "../../src/worker/trigger-event.js";
import { runOptions } from "../../src/worker/run-options.js";
import type { Processor, ProcessorContext } from "../../src/core/worker-contract.js";
import { coreLogger } from "./core-log.js";
import type { Inputs } from "./inputs.js";
import { InputError, readInputs } from "./inputs.js";
import { annotate, writeFailureSummary, writeJobSummary } from "./summary.js";
import { errText } from "../../src/util/errors.js";

/** What tests may replace; the published Action uses the defaults. */
export interface RunOverrides {
  processors?: readonly Processor[];
  createLlm?: (ctx: ProcessorContext) => Llm;
  openDb?: () => Promise<Db>;
  env?: NodeJS.ProcessEnv;
  /**
   * GitHub retries (with backoff: about 14 s before a failing request gives up) are on in real
   * runs; tests turn them off so a request nothing answers fails at once.
   */
  githubRetries?: boolean;
}

/**
 * The Action: reads its inputs, runs the worker once (standalone, or connected to the app when
 * app-url is set), and reports through outputs, the job summary and annotations.
 */
export async function run(overrides: RunOverrides = {}): Promise<void> {
  const env = overrides.env ?? process.env;
  try {
    const inputs = readInputs();
    const summary = await runOnce(inputs, overrides, env);
    core.setOutput("analyzed", String(summary.analysed));
    core.setOutput("merged", String(summary.merged));
    core.setOutput("cost-usd", summary.costUsd.toFixed(6));
    core.setOutput("summary-json", JSON.stringify(summary));
    annotate(summary);
    await writeJobSummary(summary).catch((e: unknown) =>
      core.warning(`Could not write the job summary: ${errText(e)}`),
    );
    if (summary.errors.length) {
      core.setFailed(
        `bg-agent finished with ${summary.errors.length} problem(s): ${summary.errors[0]}`,
      );
    } else if (!summary.config.valid && inputs.failOnInvalidConfig) {
      core.setFailed(
        `${summary.config.path} is invalid (${summary.config.problems.join("; ")}): fix it (check it with npx bg-agent validate), or set fail-on-invalid-config: false to keep the step green`,
      );
    }
  } catch (e) {
    const known = e instanceof RunError || e instanceof InputError;
    const message = known ? errText(e) : `bg-agent failed unexpectedly: ${errText(e)}`;
    if (!known) core.debug((e as Error).stack ?? "");
    await writeFailureSummary(message).catch(() => undefined);
    core.setFailed(message);
  }
}

async function runOnce(
  inputs: Inputs,
  overrides: RunOverrides,
  env: NodeJS.ProcessEnv,
): Promise<RunSummary> {
  const repo = env.GITHUB_REPOSITORY;
  if (!repo)
    throw new RunError(
      "GITHUB_REPOSITORY is not set: run this Action inside a GitHub Actions workflow.",
    );
  const runUrl =
    env.GITHUB_SERVER_URL && env.GITHUB_RUN_ID
      ? `${env.GITHUB_SERVER_URL}/${repo}/actions/runs/${env.GITHUB_RUN_ID}`
      : undefined;
  const base: RunOnceOptions = runOptions({
    repo,
    mode: inputs.mode,
    dryRun: inputs.dryRun,
    github: {
      token: inputs.githubToken,
      apiUrl: env.GITHUB_API_URL || "https://api.github.com",
      userAgent: "bg-agent-action",
      retries: overrides.githubRetries,
    },
    openDb: overrides.openDb ?? openSqlJs,
    log: coreLogger(),
    llm: {
      provider: inputs.llmProvider ?? env.BG_LLM_PROVIDER,
      model: inputs.llmModel ?? env.BG_LLM_MODEL,
      apiKey: inputs.llmApiKey ?? env.BG_LLM_API_KEY,
      baseUrl: inputs.llmBaseUrl ?? env.BG_LLM_BASE_URL,
      rpm: inputs.llmRpm ?? env.BG_LLM_RPM,
      tpm: inputs.llmTpm ?? env.BG_LLM_TPM,
    },
    createLlm: overrides.createLlm,
    linear: { apiKey: inputs.linearApiKey ?? env.LINEAR_API_KEY, apiUrl: env.BG_LINEAR_API_URL },
    workspace: env.GITHUB_WORKSPACE || process.cwd(),
    configPath: inputs.configPath,
    configExtendsAllow: inputs.configExtendsAllow,
    maxCostUsd: inputs.maxCostUsd,
    processors: overrides.processors,
    owner: `runner:${env.GITHUB_RUN_ID ?? process.pid}:${env.GITHUB_RUN_ATTEMPT ?? "1"}`,
    runUrl,
  });
  // `on:` tasks run when this workflow run was started by an event they name.
  const event = readTriggerEvent(env);
  if (event) base.event = event;
  let summary: RunSummary;
  if (inputs.appUrl) {
    try {
      summary = await runConnected({
        ...base,
        appUrl: inputs.appUrl,
        idToken: () => core.getIDToken(inputs.oidcAudience),
        ...(env.BG_WORKER_ID ? { worker: env.BG_WORKER_ID } : {}),
      });
    } catch (e) {
      if (!(e instanceof AppUnreachableError) || inputs.fallback !== "standalone") throw e;
      core.warning(`${e.message} Falling back to standalone mode (fallback: standalone).`, {
        title: "bg-agent",
      });
      summary = await runStandalone(base);
      summary.notes.unshift(
        `The app at ${inputs.appUrl} did not answer: this run fell back to standalone mode.`,
      );
    }
  } else {
    summary = await runStandalone(base);
  }
  return summary;
}
