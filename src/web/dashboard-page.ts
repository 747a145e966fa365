import { randomBytes } from "node:crypto";
import type { Route } from "./http.js";
import { sendError } from "./http.js";
import { DASHBOARD_CLIENT_JS } from "./dashboard-client.js";

/**
 * GET /bg: one self-contained page (inline CSS, inline script, an SVG chart drawn by the script).
 * It holds no data and needs no token to load: without a token it shows only the sign-in form,
 * and every number comes from the admin API with the token the person enters.
 */

const CSS = `
:root{--bg:#f5f7fa;--card:#fff;--ink:#1f2328;--muted:#656d76;--line:#d8dee4;--soft:#eef1f4;--accent:#0969da;
--ok:#1a7f37;--ok-bg:#dafbe1;--warn:#9a6700;--warn-bg:#fff8c5;--bad:#cf222e;--bad-bg:#ffebe9;--info:#0969da;--info-bg:#ddf4ff}
*{box-sizing:border-box}
[hidden]{display:none!important}
html,body{margin:0}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;background:var(--bg);color:var(--ink)}
header{background:#1f2328;color:#fff;padding:10px 24px;display:flex;align-items:center;gap:14px;flex-wrap:wrap;position:sticky;top:0;z-index:2}
.brand{font-weight:600;font-size:16px;display:flex;align-items:center;gap:8px}
.logo{display:inline-grid;place-items:center;width:26px;height:26px;border-radius:6px;background:#2da44e;color:#fff;font-size:12px;font-weight:700}
.spacer{flex:1}
.updated{color:#c9d1d9;font-size:12px}.updated.stale{color:#ffb3ad}
.controls{display:flex;gap:8px;align-items:center;flex-wrap:wrap}
.controls label{color:#c9d1d9;font-size:12px}
select,input,button{font:inherit}
select{border:1px solid #57606a;background:#2b3137;color:#fff;border-radius:6px;padding:4px 6px}
.btn{border:1px solid var(--line);background:#f6f8fa;color:var(--ink);border-radius:6px;padding:5px 12px;cursor:pointer;font-weight:500}
.btn:hover{background:#eef1f4}.btn:disabled{opacity:.6;cursor:default}
.btn-primary{background:#1f883d;border-color:#1a7f37;color:#fff}.btn-primary:hover{background:#1a7f37}
.btn-danger{background:var(--bad);border-color:#a40e26;color:#fff}.btn-danger:hover{background:#a40e26}
.btn-dark{background:#2b3137;border-color:#57606a;color:#fff}.btn-dark:hover{background:#32383f}
.btn-small{padding:2px 10px;font-size:12px}
.btn-danger-outline{color:var(--bad);border-color:#ffcecb;background:#fff}.btn-danger-outline:hover{background:var(--bad-bg)}
main{max-width:1320px;margin:0 auto;padding:20px 24px 48px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 18px;margin-bottom:18px;min-width:0}
.card h2{font-size:15px;margin:0 0 12px;font-weight:600}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:18px}.grid2>.card{margin-bottom:18px}
@media (max-width:980px){.grid2{grid-template-columns:1fr}}
.login{max-width:440px;margin:60px auto}
.login h1{font-size:20px;margin:0 0 6px}.login p{color:var(--muted);margin:0 0 14px}
.login form{display:grid;gap:8px}.login label{font-weight:600}
.login input{border:1px solid var(--line);border-radius:6px;padding:8px 10px;width:100%}
.error{color:var(--bad);min-height:1.2em;margin-top:10px}
.github-sign-in{display:grid;gap:6px;margin-bottom:6px}.github-sign-in p{margin:0}
.btn-github{display:block;text-align:center;background:#24292f;border-color:#24292f;color:#fff;padding:8px 12px}.btn-github:hover{background:#32383f;text-decoration:none}
.or{display:flex;align-items:center;gap:10px;color:var(--muted);font-size:12px;margin:6px 0 10px}.or::before,.or::after{content:"";flex:1;border-top:1px solid var(--line)}
.who{color:#c9d1d9;font-size:12px}
.banner{background:var(--bad-bg);border:1px solid #ffcecb;color:#82071e;border-radius:8px;padding:10px 14px;margin-bottom:14px;font-weight:500}
.notice{border-radius:8px;padding:8px 14px;margin-bottom:14px}
.notice-ok{background:var(--ok-bg);border:1px solid #aceebb;color:#116329}.notice-bad{background:var(--bad-bg);border:1px solid #ffcecb;color:#82071e}
.stats{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin-bottom:18px}
.stat{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px}
.stat-label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.stat-value{font-size:26px;font-weight:600;font-variant-numeric:tabular-nums;margin-top:2px}
.stat-sub{color:var(--muted);font-size:12px}
.stat-bad .stat-value{color:var(--bad)}.stat-info .stat-value{color:var(--info)}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%}
th{text-align:left;font-size:12px;color:var(--muted);font-weight:600;border-bottom:1px solid var(--line);padding:6px 8px;white-space:nowrap;text-transform:capitalize}
td{border-bottom:1px solid var(--soft);padding:7px 8px;vertical-align:top}
tr:last-child td{border-bottom:none}
tr.total td{font-weight:600;border-top:1px solid var(--line)}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.zero{color:#afb8c1}td.bad,.bad{color:var(--bad)}
tr.empty td{color:var(--muted);text-align:center;padding:18px 8px;font-style:italic}
.muted{color:var(--muted)}.small{font-size:12px}
.repo-name{font-weight:600;word-break:break-all}
.why{font-size:13px;max-width:420px}.reason+.reason{margin-top:2px}
.reason-paused,.reason-paused_all{color:#82071e}.reason-people_active,.reason-budget_daily,.reason-budget_monthly,.reason-config_invalid{color:var(--warn)}
.actions{text-align:right}
.pill{display:inline-block;border-radius:999px;padding:1px 9px;font-size:12px;font-weight:600;white-space:nowrap}
.pill-lg{font-size:13px;padding:3px 12px}
.pill-ok{background:var(--ok-bg);color:var(--ok)}.pill-warn{background:var(--warn-bg);color:var(--warn)}
.pill-bad{background:var(--bad-bg);color:var(--bad)}.pill-info{background:var(--info-bg);color:var(--info)}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
.summary{max-width:340px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;color:var(--muted)}
.chart{width:100%;height:auto;display:block}
.chart .axis{font-size:11px;fill:#656d76}
.chart .budget-label{fill:#cf222e;font-weight:600}
.chart-empty{font-size:13px;fill:#8c959f}
.legend{display:flex;gap:6px;align-items:center;font-size:12px;color:var(--muted);margin:4px 0 10px}
.legend .key{display:inline-block;width:12px;height:10px;border-radius:2px;margin-left:8px}
.key-bar{background:#54aeff}.key-today{background:#0969da}.key-budget{height:0!important;border-top:2px dashed #cf222e}
.month-line{margin-bottom:6px}
.progress{height:8px;background:var(--soft);border-radius:999px;overflow:hidden;margin-bottom:6px}
.progress-fill{height:100%;background:#2da44e;width:0}.progress-fill.near{background:#d4a72c}.progress-fill.over{background:var(--bad)}
.more{display:flex;justify-content:space-between;align-items:center;margin-top:10px;color:var(--muted);font-size:12px}
.empty-state{padding:18px;text-align:center;color:var(--muted)}.empty-state strong{color:var(--ink);font-size:15px}
.empty-state p{max-width:560px;margin:6px auto 0}
`;

const BODY = `
<header>
  <div class="brand"><span class="logo">bg</span><span>bg-agent</span></div>
  <span id="global-state" class="pill pill-lg" hidden></span>
  <span class="spacer"></span>
  <span id="updated" class="updated" aria-live="polite"></span>
  <div id="controls" class="controls" hidden>
    <label for="pause-for">Pause for</label>
    <select id="pause-for" data-testid="pause-for">
      <option value="">until resumed</option>
      <option value="1h">1 hour</option>
      <option value="4h">4 hours</option>
      <option value="1d">1 day</option>
      <option value="7d">7 days</option>
    </select>
    <button id="pause-all" class="btn btn-danger" type="button">Pause all</button>
    <button id="resume-all" class="btn btn-primary" type="button" hidden>Resume all</button>
    <button id="wake" class="btn btn-dark" type="button" title="Run a worker pass now">Run now</button>
    <span id="who" class="who" data-testid="signed-in-as" hidden></span>
    <button id="sign-out" class="btn btn-dark" type="button">Sign out</button>
  </div>
</header>
<main>
  <section id="login" class="card login" hidden>
    <h1>bg-agent dashboard</h1>
    %GITHUB_SIGN_IN%<p>Enter the admin token (<code>BG_ADMIN_TOKEN</code>). It stays in this browser tab only and is sent to the admin API as a bearer header.</p>
    <form id="login-form" method="post" autocomplete="off">
      <label for="token">Admin token</label>
      <input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required>
      <button class="btn btn-primary" type="submit">Open dashboard</button>
    </form>
    <p id="login-error" class="error" role="alert"></p>
  </section>
  <div id="app" hidden>
    <div id="banner" class="banner" data-testid="pause-banner" hidden></div>
    <div id="notice" class="notice" role="status" hidden></div>
    <div id="stats" class="stats"></div>
    <section class="card"><h2>Repositories</h2><div id="repos"></div></section>
    <div class="grid2">
      <section class="card"><h2>Queue by task type</h2><div id="queue"></div></section>
      <section class="card"><h2>LLM spend, last 30 days</h2><div id="spend"></div></section>
    </div>
    <div class="grid2">
      <section class="card"><h2>Prompt tasks</h2><div id="schedules"></div></section>
      <section class="card"><h2>Automerge: pull requests waiting</h2><div id="automerge"></div></section>
    </div>
    <section class="card"><h2>Recent batches</h2><div id="batches"></div></section>
    <section class="card"><h2>Recent runs</h2><div id="runs"></div>
      <div class="more"><span id="runs-count"></span><button id="runs-older" class="btn btn-small" type="button" hidden>Older runs</button></div>
    </section>
  </div>
</main>
`;

/** Offered above the token form when GitHub sign-in is configured (a plain link: GET /bg/login). */
const GITHUB_SIGN_IN = `<div class="github-sign-in">
      <a id="github-sign-in" class="btn btn-github" href="/bg/login" data-testid="github-sign-in">Sign in with GitHub</a>
      <p class="small">For members of the organisations and accounts that installed this GitHub App.</p>
      <div class="or"><span>or</span></div>
    </div>
    `;

export function renderDashboardPage(nonce: string, o: { githubSignIn?: boolean } = {}): string {
  const body = BODY.replace("%GITHUB_SIGN_IN%", o.githubSignIn ? GITHUB_SIGN_IN : "");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
<title>bg-agent dashboard</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${CSS}</style>
</head>
<body data-github-sign-in="${o.githubSignIn ? "on" : "off"}">${body}<script nonce="${nonce}">${DASHBOARD_CLIENT_JS}</script>
</body>
</html>
`;
}

/** The page's Content-Security-Policy: only its own nonce'd inline code, API calls to itself. */
export const contentSecurityPolicy = (nonce: string): string =>
  [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");

export function createDashboardRoute(o: { githubSignIn?: boolean } = {}): Route {
  return (req, res, url) => {
    if (url.pathname !== "/bg" && url.pathname !== "/bg/") return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET");
      sendError(res, 405, "use GET");
      return true;
    }
    const nonce = randomBytes(16).toString("base64");
    const html = renderDashboardPage(nonce, o);
    res.writeHead(200, {
      "content-type": "text/html; charset=utf-8",
      "content-length": Buffer.byteLength(html),
      "cache-control": "no-store",
      "content-security-policy": contentSecurityPolicy(nonce),
      "x-content-type-options": "nosniff",
      "x-frame-options": "DENY",
      "referrer-policy": "no-referrer",
    });
    res.end(req.method === "HEAD" ? undefined : html);
    return true;
  };
}
