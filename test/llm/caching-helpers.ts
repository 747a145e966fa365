import nock from "nock";
import type { ProcessorContext } from "../../src/core/worker-contract.js";
import { createBatchApi } from "../../src/llm/openai-batch.js";
import type { ChatRequest } from "../../src/llm/types.js";

/** Submits requests to a nock'd OpenAI Batch API; returns the JSONL lines uploaded. */
export async function createOpenAIBatchApi(
  ctx: ProcessorContext,
  reqs: ChatRequest[],
): Promise<{ custom_id: string; body: Record<string, unknown> }[]> {
  let uploaded = "";
  nock("https://api.openai.com")
    .post("/v1/files")
    .reply(200, (_u, body) => {
      uploaded = typeof body === "string" ? body : JSON.stringify(body);
      return {
        id: "file-1",
        object: "file",
        bytes: 1,
        created_at: 1,
        filename: "x",
        purpose: "batch",
      };
    })
    .post("/v1/batches")
    .reply(200, { id: "batch-1", object: "batch", status: "validating" });
  await createBatchApi(ctx).submit(reqs.map((req, i) => ({ customId: `c${i}`, req })));
  return uploaded
    .split(/\r?\n/)
    .filter((l) => l.startsWith("{") && l.includes("custom_id"))
    .map((l) => JSON.parse(l) as { custom_id: string; body: Record<string, unknown> });
}
