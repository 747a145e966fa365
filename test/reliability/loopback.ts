import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface Seen {
  method: string;
  path: string;
  body: string;
}

export interface Proxy {
  url: string;
  seen: Seen[];
  /** Requests held (never answered): the worker that sent them is killed. */
  held: Seen[];
  /** Resolves when the next request is held. */
  nextHold(): Promise<Seen>;
  close(): Promise<void>;
}

/**
 * A loopback HTTP server for a worker in another process (where nock cannot reach): it forwards
 * each request to `upstream` through this process's fetch, which nock answers, so the usual
 * nock fakes serve the child too. A request `hold` picks is never answered: the fault is a worker
 * killed while that request is in flight.
 */
export async function loopbackProxy(
  upstream: string,
  hold: (r: Seen) => boolean = () => false,
): Promise<Proxy> {
  const seen: Seen[] = [];
  const held: Seen[] = [];
  let waiters: ((s: Seen) => void)[] = [];
  const sockets = new Set<Socket>();
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const r: Seen = {
      method: req.method ?? "GET",
      path: req.url ?? "/",
      body: Buffer.concat(chunks).toString("utf8"),
    };
    seen.push(r);
    if (hold(r)) {
      held.push(r);
      const w = waiters;
      waiters = [];
      for (const f of w) f(r);
      return; // never answered
    }
    const headers: Record<string, string> = {};
    for (const k of ["content-type", "accept", "authorization"]) {
      const v = req.headers[k];
      if (typeof v === "string") headers[k] = v;
    }
    const up = await fetch(`${upstream}${r.path}`, {
      method: r.method,
      headers,
      ...(r.method === "GET" || r.method === "HEAD" ? {} : { body: r.body }),
    });
    const text = await up.text();
    res
      .writeHead(up.status, {
        "content-type": up.headers.get("content-type") ?? "application/json; charset=utf-8",
      })
      .end(text);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      res.writeHead(599, { "content-type": "text/plain" }).end(String(e));
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    held,
    nextHold: () => new Promise<Seen>((resolve) => waiters.push(resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface Worker {
  child: ChildProcess;
  /** stdout (the pass summary) and stderr, and how the process ended. */
  done: Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>;
}

/** Starts test/reliability/crash-worker.ts in its own node process. */
export function startWorker(env: Record<string, string>): Worker {
  const child = spawn(process.execPath, ["--import", "tsx", "test/reliability/crash-worker.ts"], {
    env: { ...process.env, ...env, NODE_OPTIONS: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}
