import type { RepoConfig } from "../config/schema.js";
import type { GitHubClient, RepoRef } from "../integrations/github.js";

/**
 * Which links in model text bg-agent keeps clickable when it posts it. Everything else is shown
 * as inline code: a link or image from model output could carry data to anyone's server (an
 * image is fetched whenever the page is viewed).
 */
export interface LinkPolicy {
  /** The repository's own pages, `https://github.com/owner/repo` (or the GHE server's): links and images. */
  repoUrl?: string;
  /** Hosts whose links (never images) are kept: `docs.example.com`, or `.example.com` for its subdomains. */
  allowHosts?: readonly string[];
}

/** GitHub's web address for a REST client: https://github.com, or the GHE server's. */
export function webUrlOf(octokit: GitHubClient): string {
  const api = String(octokit.request.endpoint.DEFAULTS.baseUrl ?? "https://api.github.com").replace(
    /\/+$/,
    "",
  );
  return api === "https://api.github.com"
    ? "https://github.com"
    : api.replace(/\/api\/v3$/i, "").replace(/\/api$/i, "");
}

/** `BG_LINK_ALLOW_HOSTS`: comma- or space-separated host names, for every repository of this app. */
export const envAllowHosts = (env: NodeJS.ProcessEnv = process.env): string[] =>
  (env.BG_LINK_ALLOW_HOSTS ?? "")
    .split(/[\s,]+/)
    .map((h) => h.trim().toLowerCase())
    .filter((h) => /^\.?[a-z0-9.-]+$/.test(h));

/** The policy for a repository: its own pages, the app's allow-list and the config's `links.allow_hosts`. */
export function linkPolicyFor(
  ctx: { repo: RepoRef; octokit: GitHubClient; config: Pick<RepoConfig, "links"> },
  env: NodeJS.ProcessEnv = process.env,
): LinkPolicy {
  return {
    repoUrl: `${webUrlOf(ctx.octokit)}/${ctx.repo.owner}/${ctx.repo.repo}`,
    allowHosts: [...envAllowHosts(env), ...(ctx.config.links?.allow_hosts ?? [])],
  };
}

/**
 * Whether a URL from model text may stay a link (or, with `image`, an image). Only absolute
 * https/http URLs without credentials; relative links, `mailto:`, `javascript:` never.
 */
export function isAllowedUrl(raw: string, policy: LinkPolicy, image = false): boolean {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return false;
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") return false;
  if (u.username || u.password) return false;
  if (policy.repoUrl) {
    try {
      const own = new URL(policy.repoUrl);
      const base = own.pathname.replace(/\/+$/, "").toLowerCase();
      const path = u.pathname.toLowerCase();
      if (
        u.protocol === own.protocol &&
        u.host.toLowerCase() === own.host.toLowerCase() &&
        (path === base || path.startsWith(`${base}/`))
      )
        return true;
    } catch {
      // An unusable repoUrl allows nothing.
    }
  }
  if (image) return false;
  const host = u.hostname.toLowerCase();
  return (policy.allowHosts ?? []).some((h) => {
    const a = h.toLowerCase();
    return a.startsWith(".") ? host.endsWith(a) && host.length > a.length : host === a;
  });
}
