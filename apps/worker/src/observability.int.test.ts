import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { type Config, loadConfig } from "@plateau/config";
import {
  createRedis,
  createTrainingQueue,
  createTrainingWorker,
  enqueueTraining,
  listWorkers,
  type TrainingJobData,
} from "@plateau/queue";
import type { Worker } from "bullmq";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  countOf,
  type Exposition,
  parseExposition,
  sampleValue,
  scrapeUntil,
  typeOf,
} from "../../../test/prometheus-text";
import { deviceOf, type Observability, startObservability } from "./observability";
import { WorkerTelemetry } from "./telemetry";

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const WORKER_NAME = `observed-${randomUUID().slice(0, 8)}:1`;
let config: Config;
let observability: Observability;
let telemetry: WorkerTelemetry;
const redis = () => createRedis(config, "publisher");
let connection: ReturnType<typeof redis>;
let queue: ReturnType<typeof createTrainingQueue>;
let worker: Worker<TrainingJobData, void>;
/** Ends the job the worker is holding. */
let release: () => void = () => {};

beforeAll(async () => {
  const base = loadConfig();
  config = { ...base, REDIS_PREFIX: `${base.REDIS_PREFIX}-observed`, WORKER_METRICS_PORT: await freePort() };
  connection = redis();
  telemetry = new WorkerTelemetry({ backend: "wasm", device: deviceOf("wasm", config) });
  queue = createTrainingQueue(config);
  worker = createTrainingWorker(
    config,
    () =>
      new Promise<void>((resolve) => {
        release = resolve;
      }),
    { name: WORKER_NAME },
  );
  observability = await startObservability({
    config,
    log: pino({ level: "silent" }),
    redis: connection,
    worker,
    workerName: WORKER_NAME,
    telemetry,
  });
});
afterAll(async () => {
  release();
  await worker.close();
  await observability.stop();
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
});

async function scrape(): Promise<Exposition> {
  const response = await fetch(`${observability.server!.url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await response.text());
}

const listed = async () => (await listWorkers(connection, config)).find((w) => w.id === WORKER_NAME);

describe("a worker's metrics server and registry entry", () => {
  it("serves Prometheus metrics with each family's type, and names its backend and device", async () => {
    const metrics = await scrape();
    expect(typeOf(metrics, "plateau_worker_jobs_running")).toBe("gauge");
    expect(typeOf(metrics, "plateau_worker_attempts_total")).toBe("counter");
    for (const histogram of [
      "plateau_worker_queue_wait_seconds",
      "plateau_worker_epoch_duration_seconds",
      "plateau_worker_batch_duration_seconds",
      "plateau_worker_checkpoint_size_bytes",
      "plateau_worker_checkpoint_upload_duration_seconds",
      "plateau_worker_event_lag_seconds",
    ]) {
      expect(typeOf(metrics, histogram), histogram).toBe("histogram");
    }
    expect(typeOf(metrics, "plateau_worker_samples_total")).toBe("counter");
    expect(typeOf(metrics, "plateau_worker_samples_per_second")).toBe("gauge");
    expect(typeOf(metrics, "plateau_worker_resumes_total")).toBe("counter");
    expect(sampleValue(metrics, "plateau_worker_info", { backend: "wasm", device: "cpu" })).toBe(1);
    expect(await listed()).toMatchObject({ backend: "wasm", device: "cpu", currentJobs: [] });
    expect(deviceOf("tensorflow-gpu", { WORKER_DEVICE: "" })).toBe("gpu");
    expect(deviceOf("tensorflow-gpu", { WORKER_DEVICE: "gpu:1" })).toBe("gpu:1");
  });

  it("counts a job while it runs and when it ends, and lists it as the worker's current job", async () => {
    const before = await scrape();
    const jobId = randomUUID();
    await enqueueTraining(queue, jobId);
    const running = await scrapeUntil(scrape, (m) => sampleValue(m, "plateau_worker_jobs_running") === 1);
    expect(countOf(running, "plateau_worker_queue_wait_seconds")).toBe(
      countOf(before, "plateau_worker_queue_wait_seconds") + 1,
    );
    expect((await listed())?.currentJobs).toEqual([jobId]);

    release();
    const done = await scrapeUntil(scrape, (m) => sampleValue(m, "plateau_worker_jobs_running") === 0);
    expect(sampleValue(done, "plateau_worker_attempts_total", { result: "completed" })).toBe(
      sampleValue(before, "plateau_worker_attempts_total", { result: "completed" }) + 1,
    );
    expect((await listed())?.currentJobs).toEqual([]);
  });

  it("records what the processor reports: epochs, batches, samples per second, uploads, event lag, resumes", async () => {
    telemetry.epochEnded({ seconds: 2, samples: 120 });
    telemetry.batchTimed(0.02);
    telemetry.checkpointUploaded({ bytes: 4096, seconds: 0.3 });
    telemetry.eventLag(0.25);
    telemetry.resumed();
    const metrics = await scrape();
    expect(sampleValue(metrics, "plateau_worker_samples_per_second")).toBe(60);
    expect(sampleValue(metrics, "plateau_worker_samples_total")).toBe(120);
    expect(sampleValue(metrics, "plateau_worker_resumes_total")).toBe(1);
    for (const histogram of [
      "plateau_worker_epoch_duration_seconds",
      "plateau_worker_batch_duration_seconds",
      "plateau_worker_checkpoint_size_bytes",
      "plateau_worker_checkpoint_upload_duration_seconds",
      "plateau_worker_event_lag_seconds",
    ]) {
      expect(countOf(metrics, histogram), histogram).toBe(1);
    }
  });

  it("is healthy while it takes jobs, and answers 503 once the worker stopped", async () => {
    const health = () => fetch(`${observability.server!.url}/healthz`);
    expect((await health()).status).toBe(200);
    expect((await fetch(`${observability.server!.url}/other`)).status).toBe(404);
    await worker.close();
    expect((await health()).status).toBe(503);
    await observability.stop();
    expect(await listed()).toBeUndefined();
  });
});
