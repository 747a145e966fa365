/**
 * An OpenAI-compatible LLM on 127.0.0.1 for app processes the test spawns: each replica is given
 * its own base URL (`<url>/<replica>/v1`), so every call is known by who made it. An analysis
 * call is answered with a valid analysis of every issue it names, after `delayMs`. A replica
 * marked slow (or, with `holdFirstCaller`, the first replica to call) is never answered: its
 * request stays open until the process is killed.
 */
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { chatCompletionBody } from "../helpers/fake-llm.js";

export interface LlmCall {
  replica: string;
  keys: string[];
  held: boolean;
}

export interface LoopbackLlm {
  url: string;
  /** Base URL for one replica's BG_LLM_BASE_URL. */
  baseUrl(replica: string): string;
  calls: LlmCall[];
  /** The next held call's replica is the one this resolves with (call `holdFirstCaller` first). */
  holdFirstCaller(): Promise<string>;
  close(): Promise<void>;
}

interface ChatBody {
  messages: { role: string; content: string }[];
  model: string;
}

/** The issue keys of an analysis request, in order. */
const keysOf = (body: ChatBody): string[] =>
  [...(body.messages.at(-1)?.content ?? "").matchAll(/^<<<ISSUE (.+?)>>>$/gm)].map((m) => m[1]!);

export async function loopbackLlm(o: { delayMs?: number } = {}): Promise<LoopbackLlm> {
  const calls: LlmCall[] = [];
  const slow = new Set<string>();
  let holdNext: ((replica: string) => void) | null = null;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const m = /^\/([a-z0-9-]+)\/v1\/chat\/completions$/.exec(req.url ?? "");
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.method !== "POST" || !m) {
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not found"}');
      return;
    }
    const replica = m[1]!;
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as ChatBody;
    const keys = keysOf(body);
    if (holdNext) {
      slow.add(replica);
      const notify = holdNext;
      holdNext = null;
      notify(replica);
    }
    const held = slow.has(replica);
    calls.push({ replica, keys, held });
    if (held) return; // never answered: the replica holding it is killed
    await new Promise((r) => setTimeout(r, o.delayMs ?? 0));
    const content = JSON.stringify({
      analyses: keys.map((key) => ({
        issue: key,
        should_fix: true,
        complexity: "low",
        plan: `1. Fix ${key}.\n2. Add a test.`,
        affected_files: ["src/index.ts"],
      })),
    });
    res
      .writeHead(200, { "content-type": "application/json" })
      .end(
        JSON.stringify(
          chatCompletionBody(
            content,
            { prompt_tokens: 1000, completion_tokens: 50 * keys.length, total_tokens: 1100 },
            { id: `chatcmpl-${calls.length}`, model: body.model },
          ),
        ),
      );
  };

  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    baseUrl: (replica) => `${url}/${replica}/v1`,
    calls,
    holdFirstCaller: () => new Promise<string>((r) => (holdNext = r)),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
