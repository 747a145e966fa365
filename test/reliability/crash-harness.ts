/**
 * The crash scenario shared by test/reliability/crash.test.ts (a few hundred deliveries) and
 * test/soak/crash.test.ts (2,000): a real app process (./_crash-app.ts) gets every delivery at
 * once, is SIGKILLed once a third of them were answered, is restarted on the same SQLite file,
 * and GitHub redelivers every id. Config reads go to a fake GitHub over loopback: `cold` = no
 * repository's config is cached (each delivery reads it, slowly), `warm` = all are cached.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createHmac, generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openSqlite } from "../../src/store/db.js";
import { postWebhook } from "../helpers/post-webhook.js";

const SECRET = "crash-secret";
const PATH = "/api/github/webhooks";
const WARM_REPOS = 20;

interface Delivery {
  id: string;
  repo: string;
  number: number;
  body: string;
  signature: string;
}

export interface CrashReport {
  deliveries: number;
  /** Answered 2xx by the process before it was killed. */
  acknowledged: number;
  /** Had a committed record after the crash. */
  committedAtCrash: number;
  /** Acknowledged, but without its record or task after the crash. */
  acknowledgedLost: number;
  /** A record without its task, or a task without its record, after the crash. */
  halfWritten: number;
  /** Redeliveries processed again although their first delivery was committed. */
  processedTwice: number;
  /** Redeliveries not answered 200. */
  redeliveryErrors: number;
  /** At the end: deliveries without their task, and tasks more than one per delivery. */
  lost: number;
  twice: number;
  tasks: number;
  records: number;
  integrity: string[];
}

const sign = (body: string): string =>
  `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`;

function makeDeliveries(n: number, mode: "cold" | "warm"): Delivery[] {
  return Array.from({ length: n }, (_, i) => {
    // Cold: a repository per delivery, so each one reads its config from GitHub.
    const repo = `crash/repo-${mode === "cold" ? i : i % WARM_REPOS}`;
    const number = i + 1;
    const payload = {
      action: "opened",
      number,
      pull_request: {
        number,
        state: "open",
        draft: false,
        head: { sha: createHmac("sha1", "x").update(String(i)).digest("hex"), ref: `f${i}` },
        base: { ref: "main" },
      },
      repository: {
        id: 1000 + i,
        name: repo.split("/")[1],
        full_name: repo,
        default_branch: "main",
        owner: { login: "crash", type: "Organization" },
      },
      installation: { id: 1 },
      sender: { login: "ci[bot]", type: "Bot" },
    };
    const body = JSON.stringify(payload);
    return { id: randomUUID(), repo, number, body, signature: sign(body) };
  });
}

/** GitHub for the app: installation tokens, and each config file answered after 5–40 ms. */
async function fakeGitHub(): Promise<{ url: string; reads: () => number; close(): Promise<void> }> {
  let reads = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    if (req.method === "POST" && /^\/app\/installations\/\d+\/access_tokens/.test(req.url ?? "")) {
      res.writeHead(201, { "content-type": "application/json" }).end(
        JSON.stringify({
          token: "ghs_crash",
          expires_at: new Date(Date.now() + 3600_000).toISOString(),
          permissions: {},
          repository_selection: "all",
        }),
      );
      return;
    }
    if (req.method === "GET" && /\/contents\/\.github(%2F|\/)bg-agent\.yml/.test(req.url ?? "")) {
      reads++;
      setTimeout(
        () =>
          res
            .writeHead(200, { "content-type": "application/vnd.github.raw; charset=utf-8" })
            .end("automerge:\n  method: merge\n"),
        5 + Math.floor(Math.random() * 35),
      );
      return;
    }
    res.writeHead(404, { "content-type": "application/json" }).end('{"message":"Not Found"}');
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    reads: () => reads,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function startApp(
  env: Record<string, string>,
): Promise<{ port: number; child: ChildProcess; exited: Promise<void> }> {
  const script = fileURLToPath(new URL("./_crash-app.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    env: { ...process.env, ...env, LOG_LEVEL: "fatal", NODE_ENV: "production" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  let out = "";
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`the app exited with ${code} before listening`)));
  });
  return { port, child, exited };
}

/** POSTs one delivery; resolves with the status and whether it was a duplicate (0: no answer). */
async function post(
  port: number,
  agent: Agent,
  d: Delivery,
): Promise<{ status: number; duplicate: boolean }> {
  const r = await postWebhook(port, agent, { ...d, name: "pull_request" }, PATH);
  return { status: r.status, duplicate: /"duplicate":true/.test(r.text) };
}

interface DbState {
  records: Set<string>;
  tasks: Map<string, number>;
  integrity: string[];
}

async function readDb(path: string): Promise<DbState> {
  const db = await openSqlite({ path });
  try {
    const records = new Set(
      (db.prepare("SELECT id FROM deliveries").all() as { id: string }[]).map((r) => r.id),
    );
    const tasks = new Map<string, number>();
    for (const t of db.prepare("SELECT repo, source FROM tasks").all() as {
      repo: string;
      source: string;
    }[]) {
      const k = `${t.repo} ${t.source}`;
      tasks.set(k, (tasks.get(k) ?? 0) + 1);
    }
    const integrity = (
      db.prepare("PRAGMA integrity_check").all() as { integrity_check: string }[]
    ).map((r) => r.integrity_check);
    return { records, tasks, integrity };
  } finally {
    db.close();
  }
}

export async function crashScenario(n: number, mode: "cold" | "warm"): Promise<CrashReport> {
  const dir = mkdtempSync(join(tmpdir(), `bg-crash-${mode}-`));
  const github = await fakeGitHub();
  const children: ChildProcess[] = [];
  try {
    const path = join(dir, "store.db");
    const list = makeDeliveries(n, mode);
    const env = {
      CRASH_DB: path,
      CRASH_SECRET: SECRET,
      CRASH_PRIVATE_KEY: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
        type: "pkcs1",
        format: "pem",
      }) as string,
      CRASH_GITHUB: github.url,
      CRASH_WARM_REPOS:
        mode === "warm"
          ? Array.from({ length: WARM_REPOS }, (_, i) => `crash/repo-${i}`).join(",")
          : "",
    };
    const key = (d: Delivery): string => `${d.repo} pr:${d.number}`;

    // 1. Every delivery at once; SIGKILL once a third of them were answered.
    const first = await startApp(env);
    children.push(first.child);
    const agent = new Agent({ keepAlive: true, maxSockets: n });
    const acked = new Set<string>();
    const killAt = Math.floor(n / 3);
    await Promise.all(
      list.map((d) =>
        post(first.port, agent, d).then((r) => {
          if (first.child.exitCode !== null || first.child.signalCode !== null) return;
          if (r.status === 200) acked.add(d.id);
          if (acked.size === killAt) first.child.kill("SIGKILL");
        }),
      ),
    );
    first.child.kill("SIGKILL");
    await first.exited;
    agent.destroy();

    // 2. What the crash left on disk.
    const crashed = await readDb(path);
    const acknowledgedLost = list.filter(
      (d) => acked.has(d.id) && (!crashed.records.has(d.id) || !crashed.tasks.has(key(d))),
    ).length;
    const halfWritten = list.filter(
      (d) => crashed.records.has(d.id) !== crashed.tasks.has(key(d)),
    ).length;

    // 3. Restart on the same file; GitHub redelivers every id (a few at a time).
    const second = await startApp(env);
    children.push(second.child);
    const agent2 = new Agent({ keepAlive: true, maxSockets: 32 });
    let processedTwice = 0;
    let redeliveryErrors = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < list.length) {
          const d = list[next++]!;
          const r = await post(second.port, agent2, d);
          if (r.status !== 200) redeliveryErrors++;
          else if (!r.duplicate && crashed.records.has(d.id)) processedTwice++;
        }
      }),
    );
    agent2.destroy();
    second.child.kill("SIGKILL"); // everything was acknowledged: durable
    await second.exited;

    const end = await readDb(path);
    return {
      deliveries: n,
      acknowledged: acked.size,
      committedAtCrash: crashed.records.size,
      acknowledgedLost,
      halfWritten,
      processedTwice,
      redeliveryErrors,
      lost: list.filter((d) => !end.tasks.has(key(d)) || !end.records.has(d.id)).length,
      twice: [...end.tasks.values()].filter((c) => c > 1).length,
      tasks: [...end.tasks.values()].reduce((a, b) => a + b, 0),
      records: end.records.size,
      integrity: [...new Set([...crashed.integrity, ...end.integrity])],
    };
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await github.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * crashScenario until the kill lands mid-stream (some deliveries answered, not all), at most
 * `tries` times: on a busy machine the process may answer every delivery before the SIGKILL
 * sent after the first third arrives, which tests nothing. Returns the first mid-stream run.
 */
export async function crashMidStream(
  n: number,
  mode: "cold" | "warm",
  tries = 3,
): Promise<CrashReport> {
  let r = await crashScenario(n, mode);
  for (let i = 1; i < tries && (r.acknowledged === 0 || r.acknowledged >= n); i++)
    r = await crashScenario(n, mode);
  return r;
}
