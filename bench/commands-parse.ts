/**
 * How long `/bg` parsing takes on hostile comments (GitHub caps a comment at 65,536 characters).
 * Run: npx tsx bench/commands-parse.ts — prints a table and writes bench/results/commands-parse.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { parseCommands } from "../src/commands/parse.js";

const MAX = 65_536;
const fill = (line: string): string => line.repeat(Math.floor(MAX / line.length)).slice(0, MAX);

const cases: Record<string, string> = {
  "64 KB of `/bg approve` lines": fill("/bg approve\n"),
  "64 KB of `/bg reject` with reasons": fill(
    "/bg reject fix this is a long reason for rejecting it\n",
  ),
  "one 64 KB `/bg` line": `/bg reject ${"x".repeat(MAX - 11)}`,
  "64 KB of fences and quotes": fill("```\n/bg approve\n```\n> /bg approve\n"),
  "64 KB of prose, no commands": fill("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n"),
};

const rows: {
  case: string;
  chars: number;
  parsed: number;
  ignored: number;
  medianMs: number;
  p99Ms: number;
}[] = [];
for (const [name, body] of Object.entries(cases)) {
  const times: number[] = [];
  let r = parseCommands(body);
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    r = parseCommands(body);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  rows.push({
    case: name,
    chars: body.length,
    parsed: r.items.length,
    ignored: r.ignored,
    medianMs: Number(times[Math.floor(times.length / 2)]!.toFixed(3)),
    p99Ms: Number(times[Math.floor(times.length * 0.99)]!.toFixed(3)),
  });
}
console.table(rows);
mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
writeFileSync(
  new URL("./results/commands-parse.json", import.meta.url),
  `${JSON.stringify({ node: process.version, at: new Date().toISOString(), rows }, null, 2)}\n`,
);
