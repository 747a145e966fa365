import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = join(import.meta.dirname, "../../src");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith(".ts") ? [p] : [];
  });
}

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

/** Every relative import and re-export of src/, as paths under src/. */
function edges(): Edge[] {
  return sources(SRC).flatMap((file) => {
    const text = readFileSync(file, "utf8");
    const from = relative(SRC, file);
    return [...text.matchAll(/^(import|export)(\s+type)?\b[^;]*?from\s+"(\.[^"]+)"/gms)].map(
      (m) => ({
        from,
        to: relative(SRC, resolve(dirname(file), m[3]!)).replace(/\.js$/, ".ts"),
        typeOnly: !!m[2],
      }),
    );
  });
}

const folder = (p: string) => (p.includes("/") ? p.split("/")[0]! : "");

describe("where the contract lives", () => {
  const all = edges();

  it("reads the imports (multi-line and type-only ones too)", () => {
    expect(all.length).toBeGreaterThan(500);
    expect(all).toContainEqual({
      from: "worker/pass.ts",
      to: "core/worker-contract.ts",
      typeOnly: true,
    });
    expect(all).toContainEqual({
      from: "web/worker-api.ts",
      to: "core/wire.ts",
      typeOnly: false,
    });
  });

  it("src/core imports nothing of the project but src/util (the worker contract: types only)", () => {
    const out = all.filter(
      (e) => folder(e.from) === "core" && !["core", "util"].includes(folder(e.to)),
    );
    // The worker contract names the services it hands processors (Store, GitHubClient, RepoConfig,
    // Logger, Llm): type-only references, no code.
    const code = out.filter((e) => !(e.from === "core/worker-contract.ts" && e.typeOnly));
    expect(code).toEqual([]);
    expect(out.every((e) => e.from === "core/worker-contract.ts")).toBe(true);
  });

  it("processors, llm, context and commands take the contract from core, not from worker", () => {
    const out = all.filter(
      (e) =>
        ["processors", "llm", "context", "commands"].includes(folder(e.from)) &&
        folder(e.to) === "worker",
    );
    expect(out).toEqual([]);
  });

  it("the runner takes the wire protocol from core, and config does not import schedule", () => {
    expect(all.filter((e) => folder(e.from) === "worker" && folder(e.to) === "web")).toEqual([]);
    expect(all.filter((e) => folder(e.from) === "config" && folder(e.to) === "schedule")).toEqual(
      [],
    );
  });
});
