/**
 * The dashboard's browser script, shipped inline in the page (no build step, no CDN).
 *
 * Rules it keeps: data from the API is only ever put in the page through textContent and
 * attributes (never innerHTML), links are followed only when they are http(s), and the admin
 * token lives in sessionStorage and travels only in the Authorization header. After a GitHub
 * sign-in the session is an HttpOnly cookie the script never sees; it holds only the login and
 * the CSRF value (from GET /bg/api/session, in memory) that it sends in x-bg-csrf.
 *
 * Written as plain ES2020 in a string without template literals or `${`; test/web checks it parses.
 */
export const DASHBOARD_CLIENT_JS = String.raw`
"use strict";
(function () {
  var KEY = "bg-agent.adminToken";
  var POLL_MS = 5000;
  var RUNS_PAGE = 50;
  var TYPES = ["automerge", "tech_debt_analysis", "fix", "prompt_task", "command", "config_check"];
  var STATUSES = ["pending", "running", "done", "failed", "cancelled"];
  var state = { runs: [], runsNext: null, olderLoaded: false, status: null, timer: null, busy: false, session: null };

  function $(id) { return document.getElementById(id); }
  function token() { try { return sessionStorage.getItem(KEY); } catch (e) { return null; } }
  // Signed in: with the admin token (this tab), or with GitHub (a session cookie).
  function authed() { return Boolean(state.session || token()); }
  function githubSignIn() { return document.body.getAttribute("data-github-sign-in") === "on"; }

  // Builds an element. Strings become text nodes; nothing is ever parsed as HTML.
  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === "text") el.textContent = String(v);
        else if (k === "href") { if (/^https?:\/\//i.test(String(v))) { el.setAttribute("href", String(v)); el.setAttribute("rel", "noopener noreferrer"); el.setAttribute("target", "_blank"); } }
        else if (k === "onclick") el.addEventListener("click", v);
        else el.setAttribute(k, String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) c.forEach(function (x) { if (x !== null && x !== undefined) el.appendChild(typeof x === "object" ? x : document.createTextNode(String(x))); });
      else el.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  function svg(tag, attrs) {
    var el = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, String(attrs[k])); });
    return el;
  }

  function usd(n) {
    n = Number(n) || 0;
    if (n === 0) return "$0.00";
    if (Math.abs(n) < 0.01) return "$" + n.toFixed(4);
    return "$" + n.toFixed(2);
  }
  function num(n) { return (Number(n) || 0).toLocaleString("en-US"); }
  function pct(x) { return x === null || x === undefined ? "–" : Math.round(x * 100) + "%"; }
  function abs(t) { return t ? new Date(t).toLocaleString() : ""; }
  function short(t) { return new Date(t).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }); }
  // Reasons come with ISO times (for API users); the page shows them in local time.
  function reasonText(x) {
    if (x.kind === "paused_all") return "all repositories paused" + (x.until ? " until " + short(x.until) : "");
    return String(x.message).replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, function (m) { return short(Date.parse(m)); });
  }
  // A chart top that gives four round ticks.
  function niceTop(v) {
    if (!(v > 0)) return 1;
    var raw = v / 4, mag = Math.pow(10, Math.floor(Math.log10(raw))), steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * mag >= raw) return steps[i] * mag * 4;
    return 40 * mag;
  }
  function rel(t) {
    if (!t) return "–";
    var d = t - Date.now();
    var a = Math.abs(d);
    var s = a < 60000 ? Math.round(a / 1000) + "s" : a < 3600000 ? Math.round(a / 60000) + "m" : a < 172800000 ? Math.round(a / 3600000) + "h" : Math.round(a / 86400000) + "d";
    return d >= 0 ? "in " + s : s + " ago";
  }
  function when(t) { return h("time", { title: abs(t), datetime: t ? new Date(t).toISOString() : null, text: rel(t) }); }
  function pill(kind, text) { return h("span", { "class": "pill pill-" + kind, text: text }); }
  function statusKind(s) {
    if (/^(ok|done|merged|unchanged|changed|active)$/.test(s)) return "ok";
    if (/^(failed|blocked|paused)$/.test(s)) return "bad";
    if (/^(running|submitted|queued)$/.test(s)) return "info";
    return "warn";
  }
  function link(href, text) { return /^https?:\/\//i.test(href || "") ? h("a", { href: href, text: text }) : h("span", { text: text }); }

  function table(headers, rows, empty, testid) {
    var head = h("tr", null, headers.map(function (x) { return h("th", { "class": x.num ? "num" : null, text: x.label || x }); }));
    var body = rows.length ? rows : [h("tr", { "class": "empty" }, h("td", { colspan: headers.length, text: empty }))];
    return h("div", { "class": "table-wrap" }, h("table", { "data-testid": testid }, h("thead", null, head), h("tbody", null, body)));
  }
  function td(text, cls, testid) { return h("td", { "class": cls || null, "data-testid": testid || null, text: text }); }

  function notice(text, kind) {
    var n = $("notice");
    n.textContent = text;
    n.className = "notice notice-" + (kind || "ok");
    n.hidden = !text;
    if (text) setTimeout(function () { if (n.textContent === text) n.hidden = true; }, 6000);
  }

  function api(path, opts) {
    opts = opts || {};
    var session = state.session;
    var headers = session ? { accept: "application/json", "x-bg-csrf": session.csrf } : { accept: "application/json", authorization: "Bearer " + token() };
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    return fetch(path, { method: opts.method || "GET", headers: headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), cache: "no-store", credentials: session ? "same-origin" : "omit", referrerPolicy: "no-referrer" })
      .then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (body) {
          if (res.status === 401) { signOut(session ? "Your GitHub sign-in has ended. Sign in again." : "The token was not accepted. Enter the admin token again."); throw new Error("unauthorized"); }
          if (res.status === 503 && path === "/bg/api/status") { signOut(body.error || "The admin API is disabled."); throw new Error("disabled"); }
          if (!res.ok) throw new Error(body.error || ("HTTP " + res.status));
          return body;
        });
      });
  }

  function signOut(message) {
    try { sessionStorage.removeItem(KEY); } catch (e) { /* private mode */ }
    state.session = null;
    $("who").hidden = true;
    $("who").textContent = "";
    if (state.timer) clearTimeout(state.timer);
    state.timer = null;
    state.runs = []; state.runsNext = null; state.olderLoaded = false; state.status = null;
    $("app").hidden = true;
    $("controls").hidden = true;
    $("global-state").hidden = true;
    $("updated").textContent = "";
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("token").focus();
  }

  function signIn(t) {
    try { sessionStorage.setItem(KEY, t); } catch (e) { $("login-error").textContent = "This browser does not allow sessionStorage."; return; }
    showApp();
  }

  function showApp() {
    if (state.session) {
      $("who").textContent = "Signed in as @" + state.session.login;
      $("who").hidden = false;
    }
    $("login").hidden = true;
    $("app").hidden = false;
    $("controls").hidden = false;
    refresh();
  }

  // After a GitHub sign-in the page has no token: the session cookie (HttpOnly) is asked about.
  function checkSession() {
    return fetch("/bg/api/session", { headers: { accept: "application/json" }, cache: "no-store", credentials: "same-origin", referrerPolicy: "no-referrer" })
      .then(function (res) { return res.json().catch(function () { return {}; }).then(function (body) { return { status: res.status, body: body }; }); })
      .then(function (r) {
        if (r.status === 200 && r.body.via === "session" && typeof r.body.csrf === "string") {
          state.session = { login: String(r.body.login), csrf: r.body.csrf };
          showApp();
        } else signOut(r.status === 401 && /expired|not valid/.test(r.body.error || "") ? "Your GitHub sign-in has ended. Sign in again." : "");
      })
      .catch(function () { signOut("Could not reach bg-agent. Reload the page to try again."); });
  }

  function userSignOut() {
    var session = state.session;
    signOut("");
    if (!session) return;
    fetch("/bg/logout", { method: "POST", headers: { accept: "application/json", "x-bg-csrf": session.csrf }, cache: "no-store", credentials: "same-origin", referrerPolicy: "no-referrer" })
      .catch(function () { $("login-error").textContent = "Could not sign out on the server: close the browser to end the session."; });
  }

  // ---- views ----

  function renderHeader(s) {
    var g = $("global-state");
    g.hidden = false;
    g.className = "pill pill-lg pill-" + (s.global.paused ? "bad" : "ok");
    g.textContent = s.global.paused ? "All paused" : "Running";
    g.setAttribute("data-testid", "global-state");
    var b = $("banner");
    if (s.global.paused) {
      b.hidden = false;
      b.textContent = "All repositories are paused" + (s.global.by ? " by " + s.global.by : "") + (s.global.until ? " until " + short(s.global.until) : " until resumed") + (s.global.reason ? " — " + s.global.reason : "") + ". Commands still run.";
    } else b.hidden = true;
    $("pause-all").hidden = s.global.paused;
    $("resume-all").hidden = !s.global.paused;
  }

  function stat(label, value, sub, testid, kind) {
    return h("div", { "class": "stat" + (kind ? " stat-" + kind : "") }, h("div", { "class": "stat-label", text: label }), h("div", { "class": "stat-value", "data-testid": testid, text: value }), sub ? h("div", { "class": "stat-sub", text: sub }) : null);
  }

  function renderStats(s, spend) {
    var q = s.queue.byStatus;
    var active = s.repos.filter(function (r) { return r.state === "active"; }).length;
    var paused = s.repos.filter(function (r) { return r.state === "paused"; }).length;
    var dayB = spend && spend.budget.dailyUsd !== null ? "of " + usd(spend.budget.dailyUsd) + " daily budget" : "no budget known";
    var monB = spend && spend.budget.monthlyUsd !== null ? "of " + usd(spend.budget.monthlyUsd) + " monthly budget" : "no budget known";
    $("stats").replaceChildren(
      stat("Repositories", num(s.repos.length), active + " active · " + paused + " paused", "stat-repos"),
      stat("Pending", num(q.pending), "tasks waiting", "stat-pending", q.pending ? "info" : null),
      stat("Running", num(q.running), "tasks in progress", "stat-running"),
      stat("Failed", num(q.failed), "tasks out of attempts", "stat-failed", q.failed ? "bad" : null),
      stat("Spent today", usd(s.spend.todayUsd), dayB + " (UTC)", "stat-spend-today"),
      stat("Spent this month", usd(s.spend.monthUsd), monB, "stat-spend-month"),
      stat("PRs waiting", num(s.automerge.waiting), "for automerge", "stat-automerge")
    );
  }

  function renderRepos(s) {
    var box = $("repos");
    if (!s.repos.length) {
      box.replaceChildren(h("div", { "class": "empty-state", "data-testid": "empty-repos" },
        h("strong", { text: "No repositories yet." }),
        h("p", { text: "Install the bg-agent GitHub App on a repository (or connect the bg-agent Action to this app). Repositories show up here as soon as a webhook arrives; queued work, runs and spend follow." })));
      return;
    }
    var rows = s.repos.map(function (r) {
      var why = r.reasons.length ? r.reasons.map(function (x) { return h("div", { "class": "reason reason-" + x.kind, title: x.message, text: reasonText(x) }); }) : [h("span", { "class": "muted", text: "all work runs" })];
      if (r.installed === false) why.push(h("div", { "class": "reason", text: "app not installed any more" }));
      var btn = r.pause
        ? h("button", { "class": "btn btn-small", type: "button", "data-action": "resume", onclick: function () { act("resume", r.repo); }, text: "Resume" })
        : h("button", { "class": "btn btn-small btn-danger-outline", type: "button", "data-action": "pause", onclick: function () { act("pause", r.repo); }, text: "Pause" });
      var tr = h("tr", { "data-repo": r.repo },
        h("td", { "class": "repo" }, h("span", { "class": "repo-name", text: r.repo })),
        h("td", null, pill(r.state === "active" ? "ok" : r.state === "paused" ? "bad" : "warn", r.state)),
        h("td", { "class": "why" }, why),
        td(num(r.queue.pending), "num", "repo-pending"),
        td(num(r.queue.running), "num", "repo-running"),
        td(num(r.queue.failed), "num" + (r.queue.failed ? " bad" : ""), "repo-failed"),
        h("td", { "class": "num" }, h("span", { "data-testid": "repo-spend-today", text: usd(r.spend.todayUsd) }), r.spend.dailyBudgetUsd !== null ? h("span", { "class": "muted", text: " / " + usd(r.spend.dailyBudgetUsd) }) : null),
        h("td", { "class": "num" }, h("span", { "data-testid": "repo-spend-month", text: usd(r.spend.monthUsd) }), r.spend.monthlyBudgetUsd !== null ? h("span", { "class": "muted", text: " / " + usd(r.spend.monthlyBudgetUsd) }) : null),
        h("td", { "class": "actions" }, btn));
      return tr;
    });
    box.replaceChildren(table(["Repository", "State", "Why", { label: "Pending", num: true }, { label: "Running", num: true }, { label: "Failed", num: true }, { label: "Today / budget", num: true }, { label: "Month / budget", num: true }, ""], rows, "", "repos-table"));
  }

  function renderQueue(s) {
    var rows = TYPES.map(function (t) {
      var c = s.queue.byType[t] || {};
      return h("tr", null, h("td", { text: t.replace(/_/g, " ") }), STATUSES.map(function (st) {
        var v = c[st] || 0;
        return td(num(v), "num" + (v ? "" : " zero") + (st === "failed" && v ? " bad" : ""), "queue-" + t + "-" + st);
      }));
    });
    var total = s.queue.byStatus;
    rows.push(h("tr", { "class": "total" }, h("td", { text: "total" }), STATUSES.map(function (st) { return td(num(total[st] || 0), "num", "queue-total-" + st); })));
    $("queue").replaceChildren(table(["Task type"].concat(STATUSES.map(function (x) { return { label: x, num: true }; })), rows, "", "queue-table"));
  }

  function renderSpend(sp) {
    var box = $("spend");
    var W = 640, H = 220, L = 52, R = 12, T = 14, B = 30;
    var days = sp.days;
    var max = 0;
    days.forEach(function (d) { if (d.costUsd > max) max = d.costUsd; });
    var daily = sp.budget.dailyUsd;
    var top = niceTop(Math.max(max, daily || 0) * 1.08);
    var cw = (W - L - R) / days.length;
    var y = function (v) { return T + (H - T - B) * (1 - v / top); };
    var g = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "Spend per day over the last " + days.length + " days", "class": "chart", "data-testid": "spend-chart" });
    for (var i = 0; i <= 4; i++) {
      var v = (top / 4) * i;
      g.appendChild(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#e6e9ed", "stroke-width": 1 }));
      var lab = svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", "class": "axis" });
      lab.textContent = usd(v);
      g.appendChild(lab);
    }
    days.forEach(function (d, i) {
      var x = L + i * cw;
      var isToday = i === days.length - 1;
      var over = daily !== null && d.costUsd >= daily && d.costUsd > 0;
      var bh = Math.max(d.costUsd > 0 ? 1.5 : 0, (H - T - B) * (d.costUsd / top));
      var bar = svg("rect", { x: x + cw * 0.15, y: H - B - bh, width: cw * 0.7, height: bh, rx: 2, fill: over ? "#cf222e" : isToday ? "#0969da" : "#54aeff", "data-day": d.day, "data-cost": d.costUsd });
      var tip = svg("title", {});
      tip.textContent = d.day + ": " + usd(d.costUsd) + " · " + num(d.calls) + " calls · " + num(d.promptTokens + d.completionTokens) + " tokens";
      bar.appendChild(tip);
      g.appendChild(bar);
      if (i % 5 === (days.length - 1) % 5) {
        var t = svg("text", { x: x + cw / 2, y: H - B + 16, "text-anchor": "middle", "class": "axis" });
        t.textContent = d.day.slice(5);
        g.appendChild(t);
      }
    });
    if (daily !== null) {
      g.appendChild(svg("line", { x1: L, x2: W - R, y1: y(daily), y2: y(daily), stroke: "#cf222e", "stroke-width": 1.5, "stroke-dasharray": "6 4" }));
      var bl = svg("text", { x: W - R, y: y(daily) - 5, "text-anchor": "end", "class": "axis budget-label" });
      bl.textContent = "daily budget " + usd(daily);
      g.appendChild(bl);
    }
    g.appendChild(svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, stroke: "#8c959f", "stroke-width": 1 }));
    if (max === 0) {
      var e = svg("text", { x: (L + W - R) / 2, y: H / 2, "text-anchor": "middle", "class": "chart-empty" });
      e.textContent = "No LLM spend in the last " + days.length + " days";
      g.appendChild(e);
    }
    var total = days.reduce(function (n, d) { return n + d.costUsd; }, 0);
    var monthly = sp.budget.monthlyUsd;
    var share = monthly ? Math.min(1, sp.monthUsd / monthly) : 0;
    var fill = h("div", { "class": "progress-fill" + (share >= 1 ? " over" : share >= 0.8 ? " near" : "") });
    fill.style.width = (share * 100).toFixed(1) + "%";
    var month = h("div", { "class": "month" },
      h("div", { "class": "month-line" }, h("span", { text: "This month " }), h("strong", { "data-testid": "spend-month", text: usd(sp.monthUsd) }),
        h("span", { "class": "muted", text: monthly !== null ? " of " + usd(monthly) + " monthly budget (" + Math.round((sp.monthUsd / (monthly || 1)) * 100) + "%)" : " (no monthly budget known)" })),
      monthly !== null ? h("div", { "class": "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": Math.round(share * 100) }, fill) : null,
      h("div", { "class": "muted small", text: "Last " + days.length + " days: " + usd(total) + ". Today (UTC): " + usd(sp.todayUsd) + "." + (sp.budget.reposWithoutBudget.length ? " Budgets unknown for " + sp.budget.reposWithoutBudget.length + " repositor" + (sp.budget.reposWithoutBudget.length === 1 ? "y" : "ies") + " (config not loaded yet)." : "") }));
    var legend = h("div", { "class": "legend" }, h("span", { "class": "key key-bar" }), h("span", { text: "spend per day" }), h("span", { "class": "key key-today" }), h("span", { text: "today" }), daily !== null ? [h("span", { "class": "key key-budget" }), h("span", { text: "daily budget" })] : null);
    box.replaceChildren(g, legend, month);
  }

  // Every prompt task in every state (GET /bg/api/schedules), with run now, pause and resume.
  function renderSchedules(list) {
    var rows = list.schedules.map(function (x) {
      var btns = [];
      if (x.status !== "proposed") btns.push(h("button", { "class": "btn btn-small", type: "button", "data-action": "task-run", onclick: function () { taskAct("run", x); }, text: "Run now" }));
      if (x.status === "active") btns.push(h("button", { "class": "btn btn-small btn-danger-outline", type: "button", "data-action": "task-pause", onclick: function () { taskAct("pause", x); }, text: "Pause" }));
      if ((x.status === "paused" && x.pauseKind !== "disabled") || x.status === "failed" || x.status === "done") btns.push(h("button", { "class": "btn btn-small", type: "button", "data-action": "task-resume", onclick: function () { taskAct("resume", x); }, text: "Resume" }));
      var last = x.lastRun ? h("td", null, x.lastRun.link ? link(x.lastRun.link, x.lastRun.status) : pill(statusKind(x.lastRun.status), x.lastRun.status), " ", when(x.lastRun.finishedAt || x.lastRunAt)) : h("td", null, x.lastRunAt ? when(x.lastRunAt) : h("span", { "class": "muted", text: "never" }));
      return h("tr", { "data-task": x.name, "data-task-repo": x.repo, "data-status": x.status },
        h("td", { text: x.repo }),
        h("td", null, h("strong", { text: x.name })),
        h("td", null, pill(statusKind(x.status), x.status), x.reason ? h("div", { "class": "muted small", "data-testid": "task-reason", text: x.reason }) : null),
        td(x.trigger || "(invalid)", "muted"),
        h("td", null, x.nextRunAt ? when(x.nextRunAt) : h("span", { "class": "muted", text: "–" })),
        last,
        td(num(x.runCount) + (x.maxRuns ? " / " + num(x.maxRuns) : ""), "num"),
        h("td", { "class": "actions" }, btns));
    });
    $("schedules").replaceChildren(table(["Repository", "Task", "Status", "Trigger", "Next run", "Last run", { label: "Runs", num: true }, ""], rows, "No prompt tasks. Declare them under tasks: in .github/bg-agent.yml.", "schedules-table"));
  }

  function taskAct(what, x) {
    return api("/bg/api/schedules/" + encodeURIComponent(x.id) + "/" + what, { method: "POST", body: {} }).then(function (res) {
      notice((what === "run" ? "Queued " : what === "pause" ? "Paused " : "Resumed ") + x.name + " (" + x.repo + "): " + res.result + ".", "ok");
      state.busy = false;
      return refresh();
    }).catch(function (e) {
      if (e && e.message === "unauthorized") return;
      notice("Could not " + what + " " + x.name + ": " + e.message, "bad");
    });
  }

  function renderAutomerge(a) {
    var rows = a.waiting.map(function (x) {
      return h("tr", null, h("td", { text: x.repo }), h("td", null, link(x.link, "#" + x.pr)), h("td", null, pill(statusKind(x.state), x.state)),
        h("td", null, h("strong", { text: x.firstUnmet || "–" }), x.firstUnmetDetail ? h("div", { "class": "muted small", text: x.firstUnmetDetail }) : null),
        td(x.conditionsMet + " / " + x.conditions, "num"), h("td", null, when(x.evaluatedAt)));
    });
    $("automerge").replaceChildren(table(["Repository", "PR", "State", "First unmet condition", { label: "Met", num: true }, "Checked"], rows, "No pull requests waiting to be merged.", "automerge-table"));
  }

  function tokens(r) {
    return h("td", { "class": "num", title: num(r.promptTokens) + " prompt (" + num(r.cachedTokens) + " cached) + " + num(r.completionTokens) + " completion", text: num(r.promptTokens + r.completionTokens) });
  }

  function renderBatches(b) {
    var rows = b.batches.map(function (x) {
      return h("tr", null, td("#" + x.id, "muted"), h("td", { text: x.repo }), td(x.type.replace(/_/g, " ")), td(x.model || "–", "muted"), h("td", null, pill(statusKind(x.status), x.status)),
        td(num(x.items), "num"), tokens(x), td(pct(x.cacheHitShare), "num"), td(usd(x.costUsd), "num"), h("td", null, when(x.startedAt)));
    });
    $("batches").replaceChildren(table(["Batch", "Repository", "Type", "Model", "Status", { label: "Items", num: true }, { label: "Tokens", num: true }, { label: "Cache hit", num: true }, { label: "Cost", num: true }, "Started"], rows, "No LLM batches yet.", "batches-table"));
  }

  function renderRuns() {
    var rows = state.runs.map(function (r) {
      return h("tr", { "data-run-id": r.id },
        td("#" + r.id, "muted"), h("td", { text: r.repo }), td(r.kind.replace(/_/g, " ")),
        h("td", null, r.ref || r.link ? link(r.link, r.ref || "open") : h("span", { "class": "muted", text: "–" })),
        h("td", null, pill(statusKind(r.status), r.status)),
        tokens(r), td(pct(r.cacheHitShare), "num"), td(usd(r.costUsd), "num", "run-cost"), h("td", null, when(r.startedAt)),
        h("td", { "class": "summary", title: r.error || r.summary || "", text: r.error || r.summary || "" }));
    });
    $("runs").replaceChildren(table(["Run", "Repository", "Kind", "Item", "Status", { label: "Tokens", num: true }, { label: "Cache hit", num: true }, { label: "Cost", num: true }, "Started", "Summary"], rows, "No runs yet: they appear when the worker processes tasks.", "runs-table"));
    var total = state.status ? state.status.runs.total : state.runs.length;
    $("runs-count").textContent = "Showing " + num(state.runs.length) + " of " + num(total) + " runs";
    $("runs-older").hidden = !state.runsNext;
  }

  function mergeRuns(page) {
    if (!state.olderLoaded) {
      state.runs = page.runs;
      state.runsNext = page.nextBefore;
      return;
    }
    var min = page.runs.length ? page.runs[page.runs.length - 1].id : Infinity;
    state.runs = page.runs.concat(state.runs.filter(function (r) { return r.id < min; }));
  }

  function refresh() {
    if (state.busy || !authed()) return Promise.resolve();
    state.busy = true;
    if (state.timer) clearTimeout(state.timer);
    return Promise.all([
      api("/bg/api/status"),
      api("/bg/api/spend?days=30"),
      api("/bg/api/automerge"),
      api("/bg/api/batches?limit=10"),
      api("/bg/api/runs?limit=" + RUNS_PAGE),
      api("/bg/api/schedules")
    ]).then(function (r) {
      state.status = r[0];
      renderHeader(r[0]);
      renderStats(r[0], r[1]);
      renderRepos(r[0]);
      renderQueue(r[0]);
      renderSpend(r[1]);
      renderSchedules(r[5]);
      renderAutomerge(r[2]);
      renderBatches(r[3]);
      mergeRuns(r[4]);
      renderRuns();
      var u = $("updated");
      u.textContent = "Updated " + new Date().toLocaleTimeString();
      u.className = "updated";
    }).catch(function (e) {
      if (e && (e.message === "unauthorized" || e.message === "disabled")) return;
      var u = $("updated");
      u.textContent = "Update failed: " + (e && e.message ? e.message : e) + " (retrying)";
      u.className = "updated stale";
    }).then(function () {
      state.busy = false;
      if (authed()) state.timer = setTimeout(refresh, POLL_MS);
    });
  }

  function act(what, repo) {
    var body = {};
    if (repo) body.repo = repo;
    var until = $("pause-for").value;
    if (what === "pause" && until) body.until = until;
    var scope = repo ? repo : "all repositories";
    return api("/bg/api/" + what, { method: "POST", body: body }).then(function (res) {
      notice((what === "pause" ? "Paused " : "Resumed ") + scope + (what === "pause" && res.until ? " until " + short(res.until) : "") + (res.note ? ". Note: " + res.note : "."), "ok");
      state.busy = false;
      return refresh();
    }).catch(function (e) {
      if (e && e.message === "unauthorized") return;
      notice("Could not " + what + " " + scope + ": " + e.message, "bad");
    });
  }

  function older() {
    if (!state.runsNext) return;
    var btn = $("runs-older");
    btn.disabled = true;
    api("/bg/api/runs?limit=" + RUNS_PAGE + "&before=" + encodeURIComponent(state.runsNext)).then(function (page) {
      state.olderLoaded = true;
      state.runs = state.runs.concat(page.runs);
      state.runsNext = page.nextBefore;
      renderRuns();
    }).catch(function (e) { notice("Could not load older runs: " + e.message, "bad"); }).then(function () { btn.disabled = false; });
  }

  function wake() {
    api("/bg/api/wake", { method: "POST", body: {} }).then(function (r) {
      notice(r.done ? (r.error ? "Worker pass failed: " + r.error : "Worker pass finished.") : "Worker pass started.", r.error ? "bad" : "ok");
      refresh();
    }).catch(function (e) { notice("Could not wake the worker: " + e.message, "bad"); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("login-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var input = $("token");
      var t = input.value.trim();
      input.value = "";
      if (!t) { $("login-error").textContent = "Enter the admin token."; return; }
      $("login-error").textContent = "";
      signIn(t);
    });
    $("pause-all").addEventListener("click", function () { act("pause", null); });
    $("resume-all").addEventListener("click", function () { act("resume", null); });
    $("wake").addEventListener("click", wake);
    $("sign-out").addEventListener("click", userSignOut);
    $("runs-older").addEventListener("click", older);
    document.addEventListener("visibilitychange", function () { if (!document.hidden && authed()) refresh(); });
    if (token()) signIn(token());
    else if (githubSignIn()) checkSession();
    else signOut("");
  });
})();
`;
