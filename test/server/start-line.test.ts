import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");

/** A port nothing listens on (bound, then released). */
const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

describe("the app's first run says what is going on (a real process, killed with SIGKILL)", () => {
  it("one listening line with the webhook and dashboard URLs; an unreachable GitHub is one warning line, no stack trace", async () => {
    const [port, github] = [await freePort(), await freePort()];
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        APP_ID: "1",
        PRIVATE_KEY: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
        WEBHOOK_SECRET: "start-line-secret",
        PORT: String(port),
        HOST: "127.0.0.1",
        // GitHub Enterprise at a port nothing answers: GitHub cannot be reached.
        GHE_HOST: `127.0.0.1:${github}`,
        GHE_PROTOCOL: "http",
        BG_DB_PATH: join(mkdtempSync(join(tmpdir(), "bg-start-")), "bg.db"),
        BG_WORKER: "off",
        LOG_LEVEL: "info",
        NO_COLOR: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no start-up lines in 30 s:\n${out}`)),
          30_000,
        );
        const poll = setInterval(() => {
          if (/listening on/.test(out) && /cannot be reached/.test(out)) {
            clearInterval(poll);
            clearTimeout(timer);
            resolve();
          }
        }, 50);
        child.once("exit", (code) => reject(new Error(`exited ${code}:\n${out}`)));
      });
    } finally {
      child.kill("SIGKILL");
    }
    const base = `http://127.0.0.1:${port}`;
    const listening = out.split("\n").filter((l) => l.includes("listening on"));
    expect(listening).toHaveLength(1);
    expect(listening[0]).toContain(
      `listening on ${base} (webhooks at ${base}/api/github/webhooks, dashboard at ${base}/bg)`,
    );
    const warnings = out.split("\n").filter((l) => l.includes("cannot be reached"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`GitHub (http://127.0.0.1:${github}/api/v3) cannot be reached`);
    expect(warnings[0]).toContain("ECONNREFUSED");
    expect(out).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  }, 40_000);
});
