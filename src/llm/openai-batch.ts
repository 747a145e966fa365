import { toFile } from "openai";
import type { Batch as OpenAIBatch } from "openai/resources/batches";
import type { ProcessorContext } from "../core/worker-contract.js";
import type { BatchLineResult } from "./batch-output.js";
import { parseBatchOutput } from "./batch-output.js";
import { addRunSpend, estimateCost } from "./budget.js";
import { budgetGate } from "./budget-gate.js";
import type { CreateLlmOptions } from "./client.js";
import { chatBody, openaiClient, settingsOf, structuredModeOf, translateError } from "./client.js";
import { BATCH_DISCOUNT, priceFor } from "./pricing.js";
import type { ProviderName } from "./providers.js";
import { BATCH_PROVIDERS, providerSpec } from "./providers.js";
import { tokenCounterFor } from "./tokens.js";
import type { ChatRequest } from "./types.js";
import { LlmUnavailableError } from "./types.js";
import { errText } from "../util/errors.js";

export const BATCH_ENDPOINT = "/v1/chat/completions";

/** What a Batch API job says about itself when polled. */
export interface BatchJobState {
  status: OpenAIBatch["status"];
  outputFileId?: string;
  errorFileId?: string;
  /** Errors the job reported (validation failures), joined. */
  error?: string;
}

/**
 * The OpenAI Batch API for one repository: requests are built exactly as a synchronous chat
 * call's (chatBody), priced at BATCH_DISCOUNT of the normal price, budget-checked before
 * submission, and their spend recorded when results are collected.
 */
export interface BatchApi {
  /** A provider with `batchApi` in PROVIDER_TABLE. */
  readonly provider: ProviderName;
  readonly model: string;
  /** Uploads one JSONL line per request and creates the job. Throws BudgetExceededError first. */
  submit(requests: { customId: string; req: ChatRequest }[]): Promise<{ externalId: string }>;
  poll(externalId: string): Promise<BatchJobState>;
  /** Downloads and parses an output (or error) file; records the spend of every line in it. */
  collect(fileId: string): Promise<Map<string, BatchLineResult>>;
}

/** True when the repository asked for the Batch API and the provider has it (PROVIDER_TABLE). */
export function batchApiWanted(ctx: ProcessorContext): boolean {
  const s = ctx.env.llm;
  return (
    ctx.config.tech_debt.openai_batch && !(s instanceof Error) && providerSpec(s.provider).batchApi
  );
}

export function createBatchApi(ctx: ProcessorContext, o: CreateLlmOptions = {}): BatchApi {
  const settings = settingsOf(ctx);
  const provider = settings.provider;
  if (!providerSpec(provider).batchApi)
    throw new LlmUnavailableError(
      `the OpenAI Batch API needs BG_LLM_PROVIDER=${BATCH_PROVIDERS.join(" or ")} (it is ${provider})`,
    );
  const model = ctx.config.llm.model ?? settings.model;
  const mode = structuredModeOf(settings);
  const client = openaiClient(settings, o);
  const log = ctx.log.child({ provider, model, api: "batch" });
  const budget = budgetGate(ctx, log);
  const price = () => priceFor(provider, model, ctx.config.llm.pricing, log).price;
  const translate = (e: unknown) =>
    translateError(e, { provider, model, baseUrl: settings.baseUrl });

  return {
    provider,
    model,
    async submit(requests) {
      const p = price();
      const counter = tokenCounterFor(provider, model);
      const estimateUsd = requests.reduce(
        (sum, r) => sum + estimateCost(r.req, p, BATCH_DISCOUNT, counter),
        0,
      );
      await budget.guard(estimateUsd, "batch");
      const jsonl = requests
        .map((r) =>
          JSON.stringify({
            custom_id: r.customId,
            method: "POST",
            url: BATCH_ENDPOINT,
            body: chatBody(r.req, { provider, model, mode, repo: ctx.repoName }),
          }),
        )
        .join("\n");
      try {
        const file = await client.files.create({
          file: await toFile(Buffer.from(`${jsonl}\n`, "utf8"), "bg-agent-batch.jsonl", {
            type: "application/jsonl",
          }),
          purpose: "batch",
        });
        const job = await client.batches.create({
          input_file_id: file.id,
          endpoint: BATCH_ENDPOINT,
          completion_window: "24h",
          metadata: { repo: ctx.repoName.slice(0, 512), by: "bg-agent" },
        });
        log.info({ batch: job.id, file: file.id, estimateUsd }, "OpenAI batch submitted");
        return { externalId: job.id };
      } catch (e) {
        throw translate(e);
      }
    },
    async poll(externalId) {
      const job = await client.batches.retrieve(externalId).catch((e: unknown) => {
        throw translate(e);
      });
      const errors = job.errors?.data
        ?.map((d) => d.message)
        .filter(Boolean)
        .join("; ");
      return {
        status: job.status,
        ...(job.output_file_id ? { outputFileId: job.output_file_id } : {}),
        ...(job.error_file_id ? { errorFileId: job.error_file_id } : {}),
        ...(errors ? { error: errors } : {}),
      };
    },
    async collect(fileId) {
      let text: string;
      try {
        text = await (await client.files.content(fileId)).text();
      } catch (e) {
        throw new Error(`could not download OpenAI file ${fileId}: ${errText(translate(e))}`);
      }
      const results = parseBatchOutput(text, price(), provider);
      if (!ctx.env.dryRun) {
        for (const r of results.values()) {
          if (!r.usage.costUsd && !r.usage.promptTokens) continue;
          await ctx.store.spend.add(ctx.repoName, r.usage);
          addRunSpend(ctx.env, r.usage.costUsd);
        }
        await budget.alert();
      }
      return results;
    },
  };
}
