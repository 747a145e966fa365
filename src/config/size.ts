import type { GitHubClient } from "../integrations/github.js";

/** The largest `.github/bg-agent.yml` (and `_extends` base) bg-agent reads: parsing is bounded by it. */
export const MAX_CONFIG_BYTES = 64 * 1024;

/** The file is over MAX_CONFIG_BYTES: a config problem, reported like invalid YAML (the same prefix). */
export class ConfigTooLargeError extends Error {
  constructor(
    readonly path: string,
    readonly bytes: number,
  ) {
    super(`[@probot/octokit-plugin-config] ${tooLargeMessage(path, bytes)}`);
  }
}

/** What a config problem says about a file over MAX_CONFIG_BYTES. */
export const tooLargeMessage = (path: string, bytes: number): string =>
  `${path} is ${bytes.toLocaleString("en-US")} bytes; bg-agent reads at most ${MAX_CONFIG_BYTES.toLocaleString("en-US")} (64 KB): make it smaller (long prompts belong in files the task reads)`;

interface RequestOptions {
  url?: string;
  path?: unknown;
  mediaType?: { format?: string };
}

const capped = new WeakSet<object>();

/** True for a contents read of a bg-agent config file (the repository's or an `_extends` base). */
const isConfigRead = (o: RequestOptions): o is RequestOptions & { path: string } =>
  o.url === "/repos/{owner}/{repo}/contents/{path}" &&
  typeof o.path === "string" &&
  /(^|\/)bg-agent\.ya?ml$/i.test(o.path);

/**
 * Makes every config file this client reads through `@probot/octokit-plugin-config` (Probot's
 * `context.config`) fail with ConfigTooLargeError when it is over MAX_CONFIG_BYTES, before the
 * plugin parses its YAML: a 1 MB file of 20,000 keys would otherwise block the event loop for
 * seconds. Idempotent per client.
 */
export function capConfigReads(
  octokit: Pick<GitHubClient, "hook">,
  o: {
    /** Every raw file read counts (a client that reads nothing but configs, e.g. intake's, where `_extends` may name any path). */
    anyPath?: boolean;
  } = {},
): void {
  if (capped.has(octokit)) return;
  capped.add(octokit);
  octokit.hook.after("request", (response: { data: unknown }, options: RequestOptions) => {
    const raw =
      o.anyPath &&
      options.url === "/repos/{owner}/{repo}/contents/{path}" &&
      typeof options.path === "string" &&
      options.mediaType?.format === "raw";
    if (!raw && !isConfigRead(options)) return;
    const data = response.data;
    const bytes =
      typeof data === "string"
        ? Buffer.byteLength(data)
        : data instanceof ArrayBuffer
          ? data.byteLength
          : 0;
    if (bytes > MAX_CONFIG_BYTES) throw new ConfigTooLargeError(String(options.path), bytes);
  });
}
