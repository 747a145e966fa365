/**
 * GitHub's write pace per installation, held across replicas (issue #16). @octokit/plugin-throttling
 * (Probot's) paces each installation's writes, one a second and content that notifies people one
 * every three seconds, in this process's memory: N replicas would write N times as fast and meet
 * GitHub's secondary rate limits. This Octokit plugin reserves each such request's slot in the
 * store's shared pace (src/store/pace.ts) first, for the same requests the throttling plugin
 * paces (writes and GraphQL; not token requests), keyed by the installation; the throttling
 * plugin still paces this process (and a client with throttling off is not paced here either).
 */
import { throttling } from "@octokit/plugin-throttling";
import type { Octokit } from "@octokit/core";
import type { Async } from "../store/contract.js";
import type { PaceStore } from "../store/pace.js";

/** The throttling plugin's intervals: a write a second, a notifying write every three seconds. */
export const WRITE_INTERVAL_MS = 1_000;
export const NOTIFY_INTERVAL_MS = 3_000;

export interface WritePaceOptions {
  pace: Pick<Async<PaceStore>, "reserve">;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** A pace the store could not answer: the request goes out, paced by this process alone. */
  warn?: (msg: string, err: unknown) => void;
}

/** Which shared paces a request takes, as @octokit/plugin-throttling classifies it. */
export function pacesOf(method: string, url: string): ("write" | "notify")[] {
  const { pathname } = new URL(url, "http://github.test");
  const auth =
    (method === "PATCH" && /^\/applications\/[^/]+\/token\/scoped$/.test(pathname)) ||
    (method === "POST" &&
      (/^\/applications\/[^/]+\/token$/.test(pathname) ||
        /^\/app\/installations\/[^/]+\/access_tokens$/.test(pathname) ||
        pathname === "/login/oauth/access_token"));
  const write = !auth && method !== "GET" && method !== "HEAD";
  const graphql = pathname.startsWith("/graphql");
  const out: ("write" | "notify")[] = [];
  if (write || graphql) out.push("write");
  if (write && throttling.triggersNotification(pathname)) out.push("notify");
  return out;
}

/** The Octokit plugin: `BgProbotOctokit.plugin(sharedWritePace({ pace: store.pace }))`. */
export function sharedWritePace(o: WritePaceOptions) {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  return (octokit: Octokit, options: { throttle?: { enabled?: boolean; id?: string } }): void => {
    if (options.throttle?.enabled === false) return;
    const id = options.throttle?.id ?? "app";
    octokit.hook.before("request", async (req) => {
      const paces = pacesOf(req.method, req.url);
      if (!paces.length) return;
      try {
        let start = 0;
        for (const p of paces) {
          const intervalMs = p === "write" ? WRITE_INTERVAL_MS : NOTIFY_INTERVAL_MS;
          const at = await o.pace.reserve(
            `github-${p}:${id}`,
            { intervalMs, burstMs: intervalMs },
            now(),
          );
          start = Math.max(start, at);
        }
        const wait = start - now();
        if (wait > 0) await sleep(wait);
      } catch (e) {
        o.warn?.(
          "the shared GitHub write pace could not be read; this request is paced by this process only",
          e,
        );
      }
    });
  };
}
