import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { PlateauClient } from "@plateau/client";
import { loadConfig } from "@plateau/config";
import type { JobSpec } from "@plateau/contract";
import { dump } from "npyjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "../../api/src/test-api";

const cliMain = fileURLToPath(new URL("./main.ts", import.meta.url));
const workerMain = fileURLToPath(new URL("../../worker/src/main.ts", import.meta.url));
// By URL, so that processes started in another directory find it.
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
// The API and the worker share a queue of their own under the run's prefix, so no other test's worker
// takes this job and this worker takes no other test's job.
const REDIS_PREFIX = `${loadConfig().REDIS_PREFIX}-cli`;

/**
 * A short job whose decisions do not depend on how training goes: with min_delta 100 no epoch after
 * the first counts as an improvement, so ReduceLROnPlateau (patience 1) halves the rate from the
 * second epoch on and EarlyStopping (patience 3) stops after the fourth.
 */
const spec: JobSpec = {
  name: "cli-follow",
  model: {
    layers: [
      { class_name: "Dense", config: { units: 8, activation: "relu", input_shape: [4] } },
      { class_name: "Dense", config: { units: 3, activation: "softmax" } },
    ],
  },
  compile: {
    optimizer: { name: "adam", learning_rate: 0.05 },
    loss: "sparse_categorical_crossentropy",
    metrics: ["accuracy"],
  },
  data: { source: "builtin", name: "iris" },
  fit: { epochs: 8, batch_size: 32, validation_split: 0.2 },
  callbacks: [
    { type: "ReduceLROnPlateau", monitor: "loss", factor: 0.5, patience: 1, min_delta: 100 },
    { type: "EarlyStopping", monitor: "loss", patience: 3, min_delta: 100 },
    { type: "ModelCheckpoint", monitor: "val_loss", save_best_only: true, save_weights_only: true },
  ],
};

// Keys come from the test, never from the environment of the run or the repository's .stack files.
const { PLATEAU_API_KEY: _apiKey, ADMIN_API_KEY: _adminKey, ...baseEnv } = process.env;
/** The ADMIN_API_KEY the test API is started with. */
const adminKey = randomBytes(24).toString("base64url");

/**
 * Runs the CLI in `cwd` (default: an empty directory, so no .stack/ key file is found) with
 * `env` added to an environment that holds no key; resolves with its exit code and output.
 */
async function cli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  return run(cliMain, args, { ...baseEnv, ...options.env }, options.cwd ?? emptyDir);
}

/** Runs a node process on a TypeScript entry; resolves with its exit code and output. */
async function run(entry: string, args: string[], env: NodeJS.ProcessEnv, cwd: string) {
  const child = spawn(process.execPath, ["--import", tsx, entry, ...args], { env, cwd, stdio: "pipe" });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr };
}

let api: TestApi;
let worker: ChildProcess;
let workerLog = "";
let emptyDir: string;
/** `--api <test API> --api-key <its tenant's key>` */
let asTenant: string[];

beforeAll(async () => {
  emptyDir = await mkdtemp(join(tmpdir(), "plateau-cli-cwd-"));
  api = await startTestApi({ REDIS_PREFIX, ADMIN_API_KEY: adminKey });
  asTenant = ["--api", api.url, "--api-key", api.tenant.key];
  worker = spawn(process.execPath, ["--import", "tsx", workerMain], {
    env: { ...process.env, REDIS_PREFIX, LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      workerLog += chunk.toString();
      if (workerLog.includes('"msg":"worker ready"')) resolve();
    };
    worker.stdout!.on("data", onData);
    worker.stderr!.on("data", onData);
    worker.once("exit", (code) =>
      reject(new Error(`the worker exited (${code}) before it was ready:\n${workerLog}`)),
    );
  });
  await ready;
});

afterAll(async () => {
  if (worker && worker.exitCode === null) {
    const exited = once(worker, "exit");
    worker.kill("SIGTERM");
    await exited;
  }
  await api?.close();
  if (emptyDir) await rm(emptyDir, { recursive: true });
});

describe("plateau follow", () => {
  it("prints every epoch, the callbacks' decisions as they happen, the outcome and the best model_url", async () => {
    const client = new PlateauClient({ baseUrl: api.url, apiKey: api.tenant.key });
    const job = await client.submitJob(spec);

    const { code, stdout, stderr } = await cli(["follow", job.id, ...asTenant]);
    expect(stderr, `worker log:\n${workerLog.slice(-3000)}`).toBe("");
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split("\n");

    // One line per epoch the API recorded, with its metrics and learning rate, in order.
    const { items } = await client.metrics(job.id);
    expect(items.map((row) => row.epoch)).toEqual([0, 1, 2, 3]);
    const epochLines = lines.filter((line) => line.startsWith("epoch "));
    expect(epochLines).toHaveLength(items.length);
    for (const [i, line] of epochLines.entries()) {
      expect(line).toMatch(
        new RegExp(`^epoch ${i + 1}/8  loss \\S+  acc \\S+  val_loss \\S+  val_acc \\S+  lr \\S+$`),
      );
    }

    // Decisions appear right after the epoch that took them.
    const firstLoss = Number(items[0].logs.loss!.toPrecision(4));
    const reduce = lines.indexOf(`ReduceLROnPlateau: lr 0.05 → 0.025 (wait 1, best ${firstLoss})`);
    expect(reduce).toBe(lines.indexOf(epochLines[1]) + 1);
    const stop = lines.indexOf("EarlyStopping: stopped at epoch 4 (best epoch 1)");
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^ModelCheckpoint: saved epoch-0001 at epoch 1, monitored value \S+ \(new best\)$/,
      ),
    );
    expect(stop).toBeGreaterThan(lines.indexOf(epochLines[3]));

    const best = await client.bestCheckpoint(job.id);
    expect(best.model_url).toMatch(
      new RegExp(
        `^${api.url}/v1/jobs/${job.id}/checkpoints/[0-9a-f-]{36}/model\\.json\\?token=\\d+\\.[\\w-]{43}$`,
      ),
    );
    expect(lines).toContain("succeeded: stopped early after epoch 4 of 8");
    // The same checkpoint's URL; its token was signed when the CLI asked, so its expiry may differ.
    const printed = lines.findIndex((line) => line.startsWith("model_url: "));
    expect(lines[printed]).toMatch(
      new RegExp(
        `^model_url: ${best.model_url.split("?")[0].replace(/\./g, "\\.")}\\?token=\\d+\\.[\\w-]{43}$`,
      ),
    );
    expect(printed).toBeGreaterThan(stop);

    // The model the job ended with, beside its checkpoints; this job wrote no files.
    const model = await cli(["model", job.id, ...asTenant]);
    expect(model.code).toBe(0);
    expect(model.stdout.split("\n")[0]).toMatch(
      new RegExp(`^model_url: ${api.url}/v1/jobs/${job.id}/model/model\\.json\\?token=\\d+\\.[\\w-]{43}$`),
    );
    const files = await cli(["files", job.id, ...asTenant]);
    expect(files).toMatchObject({ code: 0, stdout: "no files\n" });
  });

  it("explains an unknown job and exits non-zero", async () => {
    const missing = "00000000-0000-4000-8000-000000000000";
    const { code, stdout, stderr } = await cli(["status", missing, ...asTenant]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toContain(`There is no job ${missing}`);
  });

  it("prints each problem of an invalid spec with its path, and queues nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "plateau-cli-"));
    const path = join(dir, "bad.json");
    const callbacks = [{ type: "ReduceLROnPlateau", monitor: "loss", factor: 2 }, { type: "EarlyStop" }];
    await writeFile(path, JSON.stringify({ ...spec, name: "cli-bad", callbacks }));
    const client = new PlateauClient({ baseUrl: api.url, apiKey: api.tenant.key });

    const { code, stdout, stderr } = await cli(["submit", path, ...asTenant]);
    await rm(dir, { recursive: true });
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/^error: The job spec has \d+ problems?/);
    expect(stderr).toMatch(/^ {2}\/callbacks\/0\/factor: .+$/m);
    expect(stderr).toMatch(/^ {2}\/callbacks\/1\/type: .+$/m);
    // Other test files share the database: look for this spec's name, not at the whole list.
    const jobs = (await client.listJobs({ limit: 100 })).items;
    expect(jobs.filter((job) => job.name === "cli-bad")).toEqual([]);
  });

  it("uploads a dataset and prints how to use it in a spec", async () => {
    const dir = await mkdtemp(join(tmpdir(), "plateau-cli-"));
    const path = join(dir, "train.csv");
    const csv = "sepal,petal,label\n5.1,1.4,0\n6.3,4.9,1\n";
    await writeFile(path, csv);
    const { code, stdout } = await cli(["upload", path, ...asTenant]);
    await rm(dir, { recursive: true });
    expect(code).toBe(0);
    const summary = new RegExp(
      `^dataset ([0-9a-f-]{36}): train\\.csv, 2 rows, ${Buffer.byteLength(csv)} bytes$`,
      "m",
    );
    const id = summary.exec(stdout)?.[1];
    expect(id, stdout).toBeDefined();
    expect(stdout).toContain("columns: sepal, petal, label");
    expect(stdout).toContain(`"data": {"source": "dataset", "id": "${id}", "label": "label"}`);
  });

  it("uploads an .npy as its bytes and prints its array's dtype and shape", async () => {
    const dir = await mkdtemp(join(tmpdir(), "plateau-cli-"));
    const path = join(dir, "x.npy");
    await writeFile(path, new Uint8Array(dump(new Float32Array(12), [3, 2, 2])));
    const { code, stdout } = await cli(["upload", path, ...asTenant]);
    await rm(dir, { recursive: true });
    expect(code, stdout).toBe(0);
    expect(stdout).toMatch(/^dataset [0-9a-f-]{36}: x\.npy, 3 rows, \d+ bytes$/m);
    expect(stdout).toContain("array array: float32 [3,2,2]");
    expect(stdout).toContain('"y": {"source": "dataset", "id": "<id of the labels .npy>"}');
  });

  it("simulates the example: each decision after its epoch, the rate it set in the next", async () => {
    const example = fileURLToPath(new URL("../../../examples/simulate-plateau.json", import.meta.url));
    const { code, stdout } = await cli(["simulate", example, ...asTenant]);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    const reduce = lines.indexOf("ReduceLROnPlateau: lr 0.01 → 0.002 (wait 2, best 0.64)");
    expect(lines.slice(reduce - 1, reduce + 2)).toEqual([
      "epoch 5  lr 0.01",
      "ReduceLROnPlateau: lr 0.01 → 0.002 (wait 2, best 0.64)",
      "epoch 6  lr 0.002",
    ]);
    expect(lines.slice(-5)).toEqual([
      "EarlyStopping: stopped at epoch 7 (best epoch 3)",
      "EarlyStopping: restored the weights of epoch 3",
      "training stops at epoch 7",
      "final lr 0.001",
      "weights at the end: epoch 3",
    ]);
  });

  it("tells the user to start the API when nothing answers", async () => {
    // .invalid never resolves (RFC 6761).
    const { code, stderr } = await cli(["list", "--api", "http://plateau.invalid:8080"]);
    expect(code).toBe(1);
    expect(stderr).toContain("cannot reach the Plateau API at http://plateau.invalid:8080 (ENOTFOUND)");
    expect(stderr).toContain("Is the API running? Start it with `npm run dev`");
  });
});

describe("plateau tenants and keys", () => {
  const uuid = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
  const time = "\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z";
  const asAdmin = () => ["--api", api.url, "--admin-key", adminKey];

  /** A directory whose .stack/<file> holds `key`, as npm run dev leaves the repository root. */
  async function stackDir(file: "api-key" | "admin-key", key: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), "plateau-cli-stack-"));
    await mkdir(join(dir, ".stack"));
    await writeFile(join(dir, ".stack", file), `${key}\n`, { mode: 0o600 });
    return dir;
  }

  it("creates a tenant and a key shown once; the key works, is listed by prefix, and fails once revoked", async () => {
    const name = `cli-${randomBytes(4).toString("hex")}`;
    const created = await cli(["tenants", "create", name, ...asAdmin()]);
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    const tenantId = new RegExp(`^tenant (${uuid}): ${name} \\(created ${time}\\)$`, "m").exec(
      created.stdout,
    )?.[1];
    expect(tenantId, created.stdout).toBeDefined();
    expect(created.stdout).toContain(`give it a key: plateau keys create --tenant ${tenantId}`);

    // The admin key from the environment this time.
    const made = await cli(["keys", "create", "--tenant", tenantId!, "--name", "ci", "--api", api.url], {
      env: { ADMIN_API_KEY: adminKey },
    });
    expect(made.code).toBe(0);
    const lines = made.stdout.split("\n");
    const keyId = new RegExp(`^API key (${uuid}) "ci" for tenant ${tenantId}:$`).exec(lines[0])?.[1];
    expect(keyId, made.stdout).toBeDefined();
    // The key alone on its line, set apart by blank lines.
    expect(lines.slice(1, 4)).toEqual(["", expect.stringMatching(/^ {2}plat_[\w-]{32}$/), ""]);
    const key = lines[2].trim();
    expect(made.stdout).toContain("This is the only time the key is shown");
    expect(made.stdout).toContain(`Revoke it with: plateau keys revoke ${keyId}`);

    // The new tenant's key works, and sees only that tenant's (no) jobs.
    const listed = await cli(["list", "--api", api.url], { env: { PLATEAU_API_KEY: key } });
    expect(listed).toMatchObject({ code: 0, stdout: "no jobs\n", stderr: "" });

    // The admin key from .stack/admin-key, against this local API.
    const dir = await stackDir("admin-key", adminKey);
    const keys = await cli(["keys", "list", "--tenant", tenantId!, "--api", api.url], { cwd: dir });
    expect(keys.code).toBe(0);
    const table = keys.stdout.trimEnd().split("\n");
    expect(table[0]).toMatch(/^ID +PREFIX +CREATED +LAST_USED +REVOKED +NAME$/);
    expect(table.slice(1)).toEqual([
      expect.stringMatching(new RegExp(`^${keyId} +${key.slice(0, 13)}… +${time} +${time} +- +ci$`)),
    ]);
    expect(keys.stdout).not.toContain(key);

    const revoked = await cli(["keys", "revoke", keyId!, ...asAdmin()]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(
      new RegExp(
        `^key ${keyId} \\(${key.slice(0, 13)}…\\) revoked at ${time}: requests with it now answer 401\\n$`,
      ),
    );
    const refused = await cli(["list", "--api", api.url, "--api-key", key]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toContain(`The API key from --api-key (${key.slice(0, 13)}…) was refused`);
    expect(refused.stderr).toContain("plateau keys list --tenant <tenant-id> shows which are revoked");
    const after = await cli(["keys", "list", "--tenant", tenantId!, ...asAdmin()]);
    expect(after.stdout).toMatch(new RegExp(`^${keyId} .* ${time} +ci$`, "m"));
    expect(after.stdout).not.toMatch(/ - +ci$/m);
    await rm(dir, { recursive: true });
  });

  it("reads .stack/api-key in the current directory for an API on this machine (127.0.0.1, localhost)", async () => {
    const dir = await stackDir("api-key", api.tenant.key);
    const local = await cli(["status", "00000000-0000-4000-8000-000000000000", "--api", api.url], {
      cwd: dir,
    });
    // Authenticated: the answer is about the job, not the key.
    expect(local.code).toBe(1);
    expect(local.stderr).toContain("There is no job 00000000-0000-4000-8000-000000000000");
    const localhost = api.url.replace("127.0.0.1", "localhost");
    expect((await cli(["list", "--api", localhost], { cwd: dir })).code).toBe(0);
    await rm(dir, { recursive: true });
  });

  it("explains a 401: which flag, variable or file gives the key, and where keys come from", async () => {
    const none = await cli(["list", "--api", api.url]);
    expect(none.code).toBe(1);
    expect(none.stdout).toBe("");
    expect(none.stderr).toMatch(/^error: This route needs an API key/);
    expect(none.stderr).toContain(
      "No API key was given. Pass --api-key <key>, set PLATEAU_API_KEY, or (against an API on this machine, e.g. npm run dev) put it in .stack/api-key in the current directory",
    );
    expect(none.stderr).toContain(
      "An administrator creates keys with: plateau keys create --tenant <tenant-id>",
    );

    const unknown = await cli(["list", "--api", api.url], {
      env: { PLATEAU_API_KEY: "plat_000000000000000000000000000000000" },
    });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("The API key from PLATEAU_API_KEY (plat_00000000…) was refused");

    // A tenant's key is no admin key, and the admin commands say where theirs comes from.
    const tenantKey = await cli([
      "tenants",
      "create",
      "cli-never",
      "--api",
      api.url,
      "--admin-key",
      api.tenant.key,
    ]);
    expect(tenantKey.code).toBe(1);
    expect(tenantKey.stderr).toMatch(/^error: This route needs an admin key \(ADMIN_API_KEY\)/);
    expect(tenantKey.stderr).toContain(
      "The admin key from --admin-key was refused: it is not the API's ADMIN_API_KEY",
    );
    expect(tenantKey.stderr).not.toContain(api.tenant.key);
    const noAdmin = await cli(["keys", "list", "--tenant", api.tenant.id, "--api", api.url]);
    expect(noAdmin.code).toBe(1);
    expect(noAdmin.stderr).toContain(
      "No admin key was given: the admin commands need the API's ADMIN_API_KEY setting.",
    );
    expect(noAdmin.stderr).toContain(
      "pass --admin-key <key>, set ADMIN_API_KEY, or (against an API on this machine, e.g. npm run dev) put it in .stack/admin-key",
    );
  });
});
