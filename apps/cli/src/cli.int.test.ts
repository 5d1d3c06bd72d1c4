import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PlateauClient } from "@plateau/client";
import { loadConfig } from "@plateau/config";
import type { JobSpec } from "@plateau/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "../../api/src/test-api";

const cliMain = fileURLToPath(new URL("./main.ts", import.meta.url));
const workerMain = fileURLToPath(new URL("../../worker/src/main.ts", import.meta.url));
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

/** Runs a node process on a TypeScript entry; resolves with its exit code and output. */
async function run(entry: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(process.execPath, ["--import", "tsx", entry, ...args], { env, stdio: "pipe" });
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

beforeAll(async () => {
  api = await startTestApi({ REDIS_PREFIX });
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
});

describe("plateau follow", () => {
  it("prints every epoch, the callbacks' decisions as they happen, the outcome and the best model_url", async () => {
    const client = new PlateauClient({ baseUrl: api.url });
    const job = await client.submitJob(spec);

    const { code, stdout, stderr } = await run(cliMain, ["follow", job.id, "--api", api.url]);
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
      new RegExp(`^${api.url}/v1/jobs/${job.id}/checkpoints/[0-9a-f-]{36}/model\\.json$`),
    );
    expect(lines).toContain("succeeded: stopped early after epoch 4 of 8");
    expect(lines).toContain(`model_url: ${best.model_url}`);
    expect(lines.indexOf(`model_url: ${best.model_url}`)).toBeGreaterThan(stop);
  });

  it("explains an unknown job and exits non-zero", async () => {
    const missing = "00000000-0000-4000-8000-000000000000";
    const { code, stdout, stderr } = await run(cliMain, ["status", missing, "--api", api.url]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toContain(`There is no job ${missing}`);
  });

  it("prints each problem of an invalid spec with its path, and queues nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "plateau-cli-"));
    const path = join(dir, "bad.json");
    const callbacks = [{ type: "ReduceLROnPlateau", monitor: "loss", factor: 2 }, { type: "EarlyStop" }];
    await writeFile(path, JSON.stringify({ ...spec, name: "cli-bad", callbacks }));
    const client = new PlateauClient({ baseUrl: api.url });

    const { code, stdout, stderr } = await run(cliMain, ["submit", path, "--api", api.url]);
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
    const { code, stdout } = await run(cliMain, ["upload", path, "--api", api.url]);
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

  it("simulates the example: each decision after its epoch, the rate it set in the next", async () => {
    const example = fileURLToPath(new URL("../../../examples/simulate-plateau.json", import.meta.url));
    const { code, stdout } = await run(cliMain, ["simulate", example, "--api", api.url]);
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
    const { code, stderr } = await run(cliMain, ["list", "--api", "http://plateau.invalid:8080"]);
    expect(code).toBe(1);
    expect(stderr).toContain("cannot reach the Plateau API at http://plateau.invalid:8080 (ENOTFOUND)");
    expect(stderr).toContain("Is the API running? Start it with `npm run dev`");
  });
});
