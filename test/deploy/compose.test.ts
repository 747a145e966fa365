import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

/*
 * compose.yaml (two replicas on PostgreSQL behind nginx, docs/deploy.md): validated by Docker
 * Compose itself (`config -q`; no engine runs here) and read for what users rely on.
 */
const root = fileURLToPath(new URL("../..", import.meta.url));
const text = readFileSync(`${root}/compose.yaml`, "utf8");

interface Service {
  image?: string;
  build?: unknown;
  environment?: Record<string, string | null>;
  healthcheck?: { test?: string[] | string };
  depends_on?: Record<string, { condition?: string }>;
  restart?: string;
  ports?: string[];
  volumes?: string[];
}
const compose = parse(text, { merge: true }) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};

/** The Compose binary here: `docker-compose` (v1, Debian's package) or the `docker compose` plugin. */
function composeCommand(): string[] | null {
  for (const cmd of [["docker-compose"], ["docker", "compose"]]) {
    const r = spawnSync(cmd[0]!, [...cmd.slice(1), "version"], { encoding: "utf8" });
    if (r.status === 0) return cmd;
  }
  return null;
}

describe("compose.yaml: two bg-agent replicas on one PostgreSQL", () => {
  it("is valid for Docker Compose (`config -q`)", () => {
    const cmd = composeCommand();
    if (!cmd) {
      const msg =
        "neither docker-compose nor `docker compose` is installed: compose.yaml is not validated (apt-get install docker-compose; .ci/run does)";
      if (process.env.CI) throw new Error(msg);
      console.warn(msg);
      return;
    }
    // No .env and no variables from this shell: the file must stand on its defaults.
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp" };
    const r = spawnSync(cmd[0]!, [...cmd.slice(1), "-f", "compose.yaml", "config", "-q"], {
      cwd: root,
      env,
      encoding: "utf8",
    });
    expect(r.stderr.trim()).toBe("");
    expect(r.status).toBe(0);
  });

  const apps = Object.entries(compose.services).filter(([, s]) =>
    Boolean(s.environment?.DATABASE_URL),
  );

  it("runs two app replicas of the same image, with the same DATABASE_URL and the worker on", () => {
    expect(apps.map(([name]) => name)).toEqual(["app1", "app2"]);
    const [a, b] = apps.map(([, s]) => s);
    expect(a!.image).toBe(b!.image);
    expect(a!.build).toBeDefined();
    expect(a!.environment!.DATABASE_URL).toBe(b!.environment!.DATABASE_URL);
    expect(a!.environment!.DATABASE_URL).toMatch(/^postgres:\/\/[^@]+@postgres:5432\//);
    for (const [, s] of apps) {
      expect(s.environment!.BG_WORKER).toBe("on");
      expect(s.restart).toBe("unless-stopped");
      expect(s.depends_on?.postgres?.condition).toBe("service_healthy");
      expect(JSON.stringify(s.healthcheck?.test)).toContain("/readyz");
      // Not published one by one: requests reach them through the load balancer.
      expect(s.ports).toBeUndefined();
    }
  });

  it("keeps PostgreSQL's data in a volume and checks it with pg_isready", () => {
    const pg = compose.services.postgres!;
    expect(pg.image).toMatch(/^postgres:\d+/);
    expect(JSON.stringify(pg.healthcheck?.test)).toContain("pg_isready");
    expect(pg.volumes?.some((v) => v.startsWith("pgdata:"))).toBe(true);
    expect(compose.volumes).toHaveProperty("pgdata");
    const url = new URL(
      compose.services.app1!.environment!.DATABASE_URL!.replace(/\$\{[^}]*\}/, "x"),
    );
    expect(url.pathname).toBe(`/${pg.environment?.POSTGRES_DB}`);
    expect(url.username).toBe(pg.environment?.POSTGRES_USER);
  });

  it("fronts both replicas with one published port (nginx), which hands a 503 or a dead replica's request to the other", () => {
    const lb = compose.services.nginx!;
    expect(lb.ports).toHaveLength(1);
    const conf = readFileSync(`${root}/deploy/nginx.conf`, "utf8");
    expect(lb.volumes?.[0]).toMatch(/^\.\/deploy\/nginx\.conf:/);
    for (const [name] of apps) expect(conf).toContain(`server ${name}:3000`);
    expect(conf).toMatch(/proxy_next_upstream[^;]*http_503[^;]*non_idempotent/);
  });
});
