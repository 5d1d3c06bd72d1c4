import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { isBuiltin } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createDb } from "@plateau/db";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stopChild } from "./services";
import { createTestTenant } from "./tenants";

/**
 * The production build as the images run it: tsup's bundles in a scratch directory holding only what an
 * image holds — dist/, prisma/migrations, package.json and the production node_modules (what
 * `npm ci --omit=dev --omit=optional` installs, read from package-lock.json, without npm's workspace
 * links into libs/) — each started with plain node.
 */

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const run = promisify(execFile);
const manifest = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8"));
const base = process.env as Record<string, string>;
// The API and the worker share a queue of their own under the run's prefix, so no other test's worker
// takes the job and this worker takes no other test's job.
const REDIS_PREFIX = `${base.REDIS_PREFIX}-build`;

let app: string;
let databaseUrl: string;
const children: ChildProcess[] = [];

/** Symlinks every top-level package of the production install from this checkout's node_modules. */
async function productionNodeModules(target: string): Promise<void> {
  const lock = JSON.parse(await readFile(join(ROOT, "package-lock.json"), "utf8"));
  for (const [path, entry] of Object.entries<Record<string, unknown>>(lock.packages)) {
    const name = path.match(/^node_modules\/((?:@[^/]+\/)?[^/]+)$/)?.[1];
    if (!name || entry.dev || entry.optional || entry.devOptional || entry.link) continue;
    await mkdir(dirname(join(target, name)), { recursive: true });
    await symlink(join(ROOT, "node_modules", name), join(target, name), "dir");
  }
}

/** Starts `node dist/<name>.js` in the scratch app; resolves with the first match of `ready` in its output. */
async function start(name: string, env: NodeJS.ProcessEnv, ready: RegExp): Promise<RegExpMatchArray> {
  const child = spawn(process.execPath, [`dist/${name}.js`], {
    cwd: app,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
      const match = ready.exec(output);
      if (match) resolve(match);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) =>
      reject(new Error(`dist/${name}.js exited (${code}) before it was ready:\n${output}`)),
    );
  });
}

beforeAll(async () => {
  app = await mkdtemp(join(tmpdir(), "plateau-build-"));
  await run(join(ROOT, "node_modules/.bin/tsup"), ["--out-dir", join(app, "dist"), "--silent"], {
    cwd: ROOT,
  });
  await cp(join(ROOT, "prisma/migrations"), join(app, "prisma/migrations"), { recursive: true });
  await cp(join(ROOT, "package.json"), join(app, "package.json"));
  await productionNodeModules(join(app, "node_modules"));
  const url = new URL(base.DATABASE_URL);
  url.pathname = `/plateau_build_${randomBytes(6).toString("hex")}`;
  databaseUrl = url.toString();
});

afterAll(async () => {
  await Promise.all(children.map((child) => stopChild(child)));
  if (databaseUrl) {
    const url = new URL(databaseUrl);
    const name = url.pathname.slice(1);
    url.pathname = "/postgres";
    const admin = new pg.Client({ connectionString: url.toString() });
    await admin.connect();
    await admin
      .query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`)
      .finally(() => admin.end());
  }
  if (app) await rm(app, { recursive: true, force: true });
});

describe("the production build", () => {
  it("imports at run time only production dependencies and node builtins", async () => {
    const files = (await readdir(join(app, "dist"))).filter((file) => file.endsWith(".js"));
    expect(files).toEqual(expect.arrayContaining(["api.js", "worker.js", "cli.js", "migrate.js"]));
    const specifiers = new Set<string>();
    for (const file of files) {
      const code = await readFile(join(app, "dist", file), "utf8");
      for (const [, specifier] of code.matchAll(
        /(?<![\w"'.$])(?:from|import\s*\(?)\s*"((?:@[\w.-]+\/)?[\w-][\w.-]*(?:\/[\w./-]+)?)"/g,
      )) {
        specifiers.add(specifier);
      }
    }
    const packages = [...specifiers]
      .filter((specifier) => !isBuiltin(specifier))
      .map((specifier) => specifier.match(/^(@[^/]+\/)?[^/]+/)![0]);
    expect(packages.length).toBeGreaterThan(0);
    expect([...new Set(packages)].filter((name) => !(name in manifest.dependencies))).toEqual([]);
  });

  it("migrates a fresh database with node dist/migrate.js, once", async () => {
    const env = { ...process.env, DATABASE_URL: databaseUrl };
    const first = await run(process.execPath, ["dist/migrate.js"], { cwd: app, env });
    const migrations = (await readdir(join(ROOT, "prisma/migrations"), { withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
    expect(first.stdout).toContain("Created database");
    expect(first.stdout).toContain(`${migrations.length} migration(s) applied`);

    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    const { rows } = await client
      .query(`SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL ORDER BY 1`)
      .finally(() => client.end());
    expect(rows.map((row) => row.migration_name)).toEqual(migrations);

    const again = await run(process.execPath, ["dist/migrate.js"], { cwd: app, env });
    expect(again.stdout).toContain("0 migration(s) applied");
  });

  it("serves the API and trains the builtin iris job on the wasm backend; the CLI follows it", async () => {
    const env = {
      ...process.env,
      NODE_ENV: "production",
      DATABASE_URL: databaseUrl,
      REDIS_PREFIX,
      API_HOST: "127.0.0.1",
      API_PORT: "0",
      LOG_LEVEL: "info",
      // Not auto: a wasm backend that cannot find its .wasm files from dist/ must fail, not fall back to cpu.
      TFJS_BACKEND: "wasm",
    };
    const [[, api]] = await Promise.all([
      start("api", env, /Server listening at (http:\/\/\S+?)"/),
      start("worker", env, /"msg":"worker ready"/),
    ]);
    const healthz = await fetch(`${api}/healthz`);
    expect(healthz.status).toBe(200);
    const readyz = await fetch(`${api}/readyz`);
    expect(readyz.status, await readyz.clone().text()).toBe(200);

    const db = createDb(databaseUrl);
    const tenant = await createTestTenant(db, "build").finally(() => db.$disconnect());
    const example = JSON.parse(await readFile(join(ROOT, "examples/iris-plateau.json"), "utf8"));
    const spec = join(app, "job.json");
    await writeFile(spec, JSON.stringify({ ...example, fit: { ...example.fit, epochs: 3 } }));
    const cli = spawn(process.execPath, ["dist/cli.js", "--api", api, "submit", spec, "--follow"], {
      cwd: app,
      env: { ...env, PLATEAU_API_KEY: tenant.key },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(cli);
    let output = "";
    cli.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    cli.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const [code] = await once(cli, "exit");
    expect(code, output).toBe(0);
    expect(output).toContain("succeeded");
    const modelUrl = output.match(/model_url: (\S+)/)?.[1];
    expect(modelUrl, output).toBeDefined();
    const model = await fetch(modelUrl!);
    expect(model.status).toBe(200);
    expect((await model.json()).weightsManifest).not.toHaveLength(0);
  });
});
