import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** Writes files (path → content) into a fresh temporary folder and returns it. */
export function writeRepo(files: Record<string, string | Uint8Array>): string {
  const dir = mkdtempSync(join(tmpdir(), "bg-map-"));
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), content);
  }
  return dir;
}

/**
 * A repository of twelve TypeScript modules that use each other, with a one-paragraph README:
 * the case of issue #17 (no cache hits with README and tree alone).
 */
export function twelveModules(): Record<string, string> {
  const names = [
    "foo",
    "bar",
    "queue",
    "store",
    "http",
    "config",
    "log",
    "cache",
    "retry",
    "auth",
    "report",
    "index",
  ];
  const files: Record<string, string> = {
    "README.md": "# demo\n\nA small service that parses bars and queues work.\n",
    "package.json":
      '{\n  "name": "demo",\n  "version": "1.0.0",\n  "scripts": {\n    "test": "vitest"\n  }\n}\n',
  };
  names.forEach((n, i) => {
    const next = names[(i + 1) % names.length]!;
    const Cap = n[0]!.toUpperCase() + n.slice(1);
    const NextCap = next[0]!.toUpperCase() + next.slice(1);
    const body: string[] = [
      `import { ${NextCap}Service, make${NextCap} } from "./${next}.js";`,
      "",
    ];
    if (n === "foo")
      body.push(
        "/** Parses a bar record from its wire form. */",
        "export function parseBar(input: string, strict = false): { id: number; name: string } {",
        "  const [id, name] = input.split(':');",
        "  if (strict && !name) throw new Error('no name');",
        "  return { id: Number(id), name: name ?? '' };",
        "}",
        "",
      );
    body.push(
      `export interface ${Cap}Options {`,
      "  retries: number;",
      "  timeoutMs: number;",
      `  label: string;`,
      "}",
      "",
      `export class ${Cap}Service {`,
      `  private readonly peer = make${NextCap}();`,
      `  constructor(private readonly options: ${Cap}Options) {}`,
    );
    for (let k = 0; k < 6; k++)
      body.push(
        `  /** Step ${k} of the ${n} workflow. */`,
        `  async step${k}${Cap}(payload: Record<string, unknown>, attempt: number): Promise<${NextCap}Service | null> {`,
        `    if (attempt > this.options.retries) return null;`,
        `    const started = Date.now();`,
        `    while (Date.now() - started < this.options.timeoutMs) {`,
        `      if (payload["${n}${k}"] !== undefined) break;`,
        `    }`,
        `    return this.peer;`,
        `  }`,
      );
    body.push(
      "}",
      "",
      `export function make${Cap}(): ${Cap}Service {`,
      `  return new ${Cap}Service({ retries: 3, timeoutMs: 10, label: "${n}" });`,
      "}",
      "",
    );
    files[`src/${n}.ts`] = body.join("\n");
  });
  return files;
}
