import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { PlateauClient } from "@plateau/client";
import { loadConfig } from "@plateau/config";
import {
  type JobSpec as JobSpecInput,
  type MetricsRow,
  type StatusData,
  type TypedJobEvent as StoredEvent,
  type StreamEvent,
  TERMINAL_STATUSES,
} from "@plateau/contract";
import { createDb, eventsAfter } from "@plateau/db";
import { divergingJob, exampleJob } from "@plateau/spec/example";
import { loadData, selectBackend } from "@plateau/training";
import type { LayersModel, Tensor } from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SSE_BATCH_INTERVAL_MS } from "../apps/api/src/event-stream";
import { startTestApi, type TestApi } from "../apps/api/src/test-api";

/**
 * End to end through HTTP: the API listening on a port and two worker processes sharing one queue, as
 * deployed. Everything is observed the way a user would: responses, the SSE stream, metrics pages, and a
 * best checkpoint loaded with tf.loadLayersModel over HTTP.
 */

const workerMain = fileURLToPath(new URL("../apps/worker/src/main.ts", import.meta.url));
const base = loadConfig();
// A queue of our own under the run's prefix, so no other test's worker takes these jobs.
const REDIS_PREFIX = `${base.REDIS_PREFIX}-e2e`;
const workerEnv = {
  ...process.env,
  REDIS_PREFIX,
  TFJS_BACKEND: "wasm",
  LOG_LEVEL: "info",
  EVENT_FLUSH_MS: "50",
  // Batch rows by time only, 300 ms apart on the trainer's clock. The SSE stream samples them by event time
  // (one per 250 ms), stamped when the worker takes the row from its trainer: a busy worker can take two
  // closer together than that, and the stream then rightly skips one. Streams are checked against the
  // stored history thinned the same way (streamable).
  BATCH_METRICS_EVERY: "1000000",
  BATCH_METRICS_INTERVAL_MS: "300",
};

interface WorkerProcess {
  child: ChildProcess;
  log: () => string;
}

/** Spawns a worker process and resolves once it listens to the queue. */
async function startWorker(): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", workerMain], {
    env: workerEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  // The tail only: it is there to explain a failure.
  let log = "";
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-20_000);
      if (log.includes('"msg":"worker ready"')) resolve();
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`a worker exited (${code}) before it was ready:\n${log}`)));
  });
  return { child, log: () => log };
}

let api: TestApi;
let client: PlateauClient;
let workers: WorkerProcess[] = [];
const db = createDb(base.DATABASE_URL);
const { tf } = await selectBackend("cpu");

beforeAll(async () => {
  // The last test follows 50 jobs at once with one key: more event streams than a key may hold by default.
  api = await startTestApi({ REDIS_PREFIX, MAX_STREAMS_PER_KEY: 64 });
  // As the test API's own tenant, with its key.
  client = new PlateauClient({ baseUrl: api.url, apiKey: api.tenant.key });
  const started = await Promise.allSettled([startWorker(), startWorker()]);
  // Kept even when the other failed to start, so afterAll stops it.
  workers = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  for (const result of started) if (result.status === "rejected") throw result.reason;
});

afterAll(async () => {
  await Promise.all(
    workers.map(async ({ child }) => {
      if (child.exitCode !== null) return;
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    }),
  );
  await api?.close();
  await db.$disconnect();
});

const workerLogs = () => workers.map((w, i) => `--- worker ${i} ---\n${w.log().slice(-3000)}`).join("\n");

/** Reads a job's SSE stream to its `done` event. */
async function readStream(id: string): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const event of client.streamEvents(id)) events.push(event);
  return events;
}

const stored = (events: StreamEvent[]) => events.filter((e): e is StoredEvent => e.type !== "done");
const ofType = <T extends StoredEvent["type"]>(events: StreamEvent[], type: T) =>
  stored(events).filter((e): e is Extract<StoredEvent, { type: T }> => e.type === type);
const decisions = (events: StreamEvent[], action: string) =>
  ofType(events, "callback").filter((e) => e.data.action === action);
const seqs = (events: StreamEvent[]) => stored(events).map((e) => e.seq);

/**
 * The seqs a job's full event stream carries: every stored event up to its terminal status, each once, in
 * order, with batch_end rows thinned to one per SSE_BATCH_INTERVAL_MS of event time.
 */
async function streamable(id: string): Promise<number[]> {
  const rows = await eventsAfter(db, id, 0, { limit: 100_000 });
  const end = rows.findIndex(
    (row) => row.type === "status" && TERMINAL_STATUSES.has((row.data as StatusData).status),
  );
  let lastBatch = Number.NEGATIVE_INFINITY;
  return rows
    .slice(0, end + 1)
    .filter((row) => {
      if (row.type !== "batch_end") return true;
      if (row.createdAt.getTime() - lastBatch < SSE_BATCH_INTERVAL_MS) return false;
      lastBatch = row.createdAt.getTime();
      return true;
    })
    .map((row) => row.seq);
}

/** Every epoch_end row of a job, polled page by page with `after` as a client would. */
async function pagedMetrics(id: string, limit: number): Promise<MetricsRow[]> {
  const rows: MetricsRow[] = [];
  let after = 0;
  for (;;) {
    const page = await client.metrics(id, { after, limit });
    if (page.items.length === 0) {
      expect(page.next_after).toBe(after);
      return rows;
    }
    expect(page.items.length).toBeLessThanOrEqual(limit);
    rows.push(...page.items);
    after = page.next_after;
  }
}

/** Accuracy of a classifier on rows, as tfjs's `acc` metric computes it. */
async function accuracy(model: LayersModel, x: Tensor, y: Tensor): Promise<number> {
  const predicted = (model.predict(x) as Tensor).argMax(-1);
  return (await predicted.equal(y.cast("int32")).mean().data())[0];
}

describe("a job end to end through HTTP", () => {
  it("trains the example job: status over SSE, paged metrics, lr reductions, a loadable best checkpoint", async () => {
    const example = exampleJob();
    const epochs = 15;
    // min_delta 10 on val_loss makes every epoch after the first a plateau, so with patience 2 the rate
    // is cut after epochs 2, 4, … (down to min_lr) however training goes.
    const spec = {
      ...example,
      fit: { ...example.fit, epochs },
      callbacks: example.callbacks.map((callback) =>
        callback.type === "ReduceLROnPlateau" ? { ...callback, patience: 2, min_delta: 10 } : callback,
      ),
    } as JobSpecInput;
    const job = await client.submitJob(spec);
    expect(job.status).toBe("queued");
    const events = await readStream(job.id);

    expect(ofType(events, "status").map((e) => e.data.status)).toEqual(["queued", "running", "succeeded"]);
    expect(events.at(-1)).toEqual({
      seq: null,
      type: "done",
      data: expect.objectContaining({ status: "succeeded" }),
    });
    expect(seqs(events), workerLogs()).toEqual(await streamable(job.id));

    // Polling with a small page gets each epoch row once, in seq order, as stored in Postgres.
    const rows = await pagedMetrics(job.id, 4);
    const n = rows.length;
    expect(rows.map((r) => r.epoch)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(rows.map((r) => r.seq)).toEqual(ofType(events, "epoch_end").map((e) => e.seq));
    const storedRows = await eventsAfter(db, job.id, 0, { limit: 1000, types: ["epoch_end"] });
    expect(storedRows.map((r) => r.seq)).toEqual(rows.map((r) => r.seq));
    for (const row of rows) expect(row.logs.learning_rate).toBeTypeOf("number");
    const finished = await client.getJob(job.id);
    expect(finished).toMatchObject({ status: "succeeded", epoch: n - 1, epochs });
    expect(finished.stop_reason).toBe(n === epochs ? "completed" : "early_stopping");

    // Each reduction shows as a callback event and as the rate of the epochs on either side of it.
    const reductions = decisions(events, "reduce_lr");
    expect(reductions.map((e) => e.epoch)[0]).toBe(2);
    for (const reduction of reductions) {
      const { from, to } = reduction.data.details as { from: number; to: number };
      expect(to).toBeLessThan(from);
      expect(rows[reduction.epoch!].logs.learning_rate).toBeCloseTo(from, 6);
      if (reduction.epoch! + 1 < n) expect(rows[reduction.epoch! + 1].logs.learning_rate).toBeCloseTo(to, 6);
    }
    expect(rows[3].logs.learning_rate!).toBeLessThan(rows[2].logs.learning_rate!);

    // The best checkpoint, loaded over HTTP (shards by redirect), scores on the validation rows (the
    // last 20% of the data, as validation_split takes them) what the worker recorded for that epoch.
    const best = await client.bestCheckpoint(job.id);
    expect(best).toMatchObject({
      monitor: "val_acc",
      value: finished.best!.value,
      epoch: finished.best!.epoch,
    });
    const model = await tf.loadLayersModel(best.model_url);
    const { train } = loadData(tf, { source: "builtin", name: "iris" });
    const split = Math.floor(train.y.shape[0] * 0.8);
    const [x, y] = [(train.x as Tensor).slice(split), train.y.slice(split)];
    const score = await accuracy(model, x, y);
    expect(score).toBeCloseTo(rows[best.epoch].logs.val_acc!, 5);
    expect(score).toBeCloseTo(best.value!, 5);
    // save_best_only in max mode: no epoch scored better than the one kept.
    expect(Math.max(...rows.map((r) => r.logs.val_acc!))).toBeCloseTo(best.value!, 6);
  });

  it("ends a diverging job cancelled/nan_loss at the NaN batch and still serves the best checkpoint", async () => {
    // Unnormalized inputs (1…64) and y = 3x: fine at lr 1e-5, diverging once a rule sets 1e6 at epoch 2,
    // after ModelCheckpoint saved at least once.
    const job = await client.submitJob({ ...divergingJob(), name: "e2e-diverging" } as JobSpecInput);
    const events = await readStream(job.id);

    const [nan] = decisions(events, "nan");
    expect(nan, workerLogs()).toBeDefined();
    expect(nan.epoch).toBe(2);
    const finished = await client.getJob(job.id);
    expect(finished).toMatchObject({
      status: "cancelled",
      stop_reason: "nan_loss",
      stop_details: { epoch: 2, batch: nan.batch },
    });
    expect(events.at(-1)).toEqual({
      seq: null,
      type: "done",
      data: { status: "cancelled", stop_reason: "nan_loss" },
    });
    expect(Math.max(...ofType(events, "epoch_end").map((e) => e.epoch!))).toBe(2);

    const best = await client.bestCheckpoint(job.id);
    expect(best.epoch).toBeLessThan(2);
    const model = await tf.loadLayersModel(best.model_url);
    const predictions = await (model.predict(tf.tensor2d([[1], [10], [64]])) as Tensor).data();
    expect([...predictions].every(Number.isFinite)).toBe(true);
  });
});

/** Long enough to be cancelled mid-epoch: 1000 batches an epoch (seconds each), 1000 epochs. */
const longJob = (name: string): JobSpecInput => ({
  name,
  model: {
    layers: [
      { class_name: "Dense", config: { units: 16, activation: "relu", input_shape: [2] } },
      { class_name: "Dense", config: { units: 2, activation: "softmax" } },
    ],
  },
  compile: { optimizer: { name: "sgd", learning_rate: 0.01 }, loss: "sparse_categorical_crossentropy" },
  data: { source: "builtin", name: "spirals", samples: 8000 },
  fit: { epochs: 1000, batch_size: 8 },
});
const BATCHES_PER_EPOCH = 1000;

describe("cancel and resume, with both workers busy", () => {
  const running: string[] = [];

  beforeAll(async () => {
    for (const name of ["e2e-long-a", "e2e-long-b"]) running.push((await client.submitJob(longJob(name))).id);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const jobs = await Promise.all(running.map((id) => client.getJob(id)));
      if (jobs.every((job) => job.status === "running")) return;
      if (Date.now() > deadline) throw new Error(`the long jobs did not both start:\n${workerLogs()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  afterAll(async () => {
    // A failed test must not leave a worker training for the rest of the run.
    for (const id of running) await client.cancel(id).catch(() => {});
  });

  it("cancels a queued job at once: 202, cancelled/user_cancel, never run", async () => {
    const job = await client.submitJob(longJob("e2e-queued"));
    const response = await fetch(`${api.url}/v1/jobs/${job.id}/cancel`, {
      method: "POST",
      headers: api.tenant.headers,
    });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ id: job.id, status: "cancelled" });

    const cancelled = await client.getJob(job.id);
    expect(cancelled).toMatchObject({
      status: "cancelled",
      stop_reason: "user_cancel",
      worker: null,
      started_at: null,
    });
    const events = await readStream(job.id);
    expect(events.map((e) => [e.seq, e.type, (e.data as { status?: string }).status])).toEqual([
      [1, "status", "queued"],
      [2, "status", "cancelled"],
      [null, "done", "cancelled"],
    ]);
    await expect(client.cancel(job.id)).rejects.toMatchObject({ status: 409 });
  });

  it("resumes an SSE stream with Last-Event-ID: every event once, in order, through to done", async () => {
    const id = running[0];
    const first: StoredEvent[] = [];
    for await (const event of client.streamEvents(id)) {
      first.push(event as StoredEvent);
      if (first.length === 4) break;
    }
    // Events keep coming while the client is away.
    await new Promise((resolve) => setTimeout(resolve, 700));
    const reconnectedAt = Date.now();
    const rest: StreamEvent[] = [];
    for await (const event of client.streamEvents(id, { after: first.at(-1)!.seq })) {
      rest.push(event);
      if (rest.length === 3) await client.cancel(id);
    }

    const all = [...first, ...rest];
    expect(seqs(all)).toEqual(await streamable(id));
    expect(all.at(-1)).toEqual({
      seq: null,
      type: "done",
      data: { status: "cancelled", stop_reason: "user_cancel" },
    });
    // Some events happened while the client was away: the reconnect got them from Postgres.
    expect(Date.parse((rest[0] as StoredEvent).time)).toBeLessThan(reconnectedAt);
  });

  it("stops a running job within the epoch in flight: cancelled/user_cancel, no later epoch", async () => {
    const id = running[1];
    const events: StreamEvent[] = [];
    let cancelledAt: StoredEvent | undefined;
    const openedAt = Date.now();
    for await (const event of client.streamEvents(id)) {
      events.push(event);
      // Cancel early in an epoch, on a live batch row (not one replayed from before), so "the epoch in
      // flight" is unambiguous.
      const live = event.type === "batch_end" && Date.parse(event.time) >= openedAt;
      if (!cancelledAt && live && event.batch! < BATCHES_PER_EPOCH / 3) {
        cancelledAt = event;
        expect((await client.cancel(id)).status).toBe("running");
      }
    }
    expect(cancelledAt).toBeDefined();
    const finished = await client.getJob(id);
    expect(finished).toMatchObject({ status: "cancelled", stop_reason: "user_cancel" });
    expect(events.at(-1)).toEqual({
      seq: null,
      type: "done",
      data: { status: "cancelled", stop_reason: "user_cancel" },
    });
    const after = stored(events).filter((e) => e.seq > cancelledAt!.seq);
    const laterEpochs = after
      .filter((e) => e.type === "epoch_end" || e.type === "batch_end")
      .map((e) => e.epoch);
    expect(new Set(laterEpochs)).toEqual(new Set(laterEpochs.length > 0 ? [cancelledAt!.epoch] : []));
    expect(after.filter((e) => e.type === "epoch_end").length).toBeLessThanOrEqual(1);
    expect(finished.epoch ?? -1).toBeLessThanOrEqual(cancelledAt!.epoch!);
    // It stopped at a batch end soon after the signal, cutting the epoch short rather than finishing it.
    const stop = finished.stop_details as { epoch: number; batch: number };
    expect(stop.epoch).toBe(cancelledAt!.epoch);
    expect(stop.batch).toBeGreaterThanOrEqual(cancelledAt!.batch!);
    expect(stop.batch).toBeLessThan(BATCHES_PER_EPOCH / 2);
  });
});

describe("many jobs across two worker processes", () => {
  it("finishes 50 small jobs, each with its full event stream and one metrics row per epoch", async () => {
    const specs = Array.from(
      { length: 50 },
      (_, i): JobSpecInput => ({
        name: `e2e-small-${i}`,
        model: {
          layers: [
            { class_name: "Dense", config: { units: 4, activation: "tanh", input_shape: [2] } },
            { class_name: "Dense", config: { units: 1, activation: "sigmoid" } },
          ],
        },
        compile: { optimizer: { name: "adam", learning_rate: 0.05 }, loss: "binary_crossentropy" },
        data: { source: "builtin", name: "xor", samples: 64, seed: i },
        fit: { epochs: 1 + (i % 3), batch_size: 32 },
      }),
    );
    const jobs = await Promise.all(specs.map((spec) => client.submitJob(spec)));
    const streams = await Promise.all(jobs.map((job) => readStream(job.id)));

    const workersSeen = new Set<string>();
    for (const [i, job] of jobs.entries()) {
      const events = streams[i];
      const epochs = specs[i].fit.epochs;
      expect(seqs(events), `job ${i}`).toEqual(await streamable(job.id));
      expect(ofType(events, "status").map((e) => e.data.status)).toEqual(["queued", "running", "succeeded"]);
      expect(events.at(-1)).toEqual({
        seq: null,
        type: "done",
        data: { status: "succeeded", stop_reason: "completed" },
      });
      const { items } = await client.metrics(job.id);
      expect(items.map((row) => row.epoch)).toEqual(Array.from({ length: epochs }, (_, e) => e));
      const finished = await client.getJob(job.id);
      expect(finished).toMatchObject({ status: "succeeded", stop_reason: "completed", epoch: epochs - 1 });
      workersSeen.add(finished.worker!);
    }
    expect(workersSeen.size).toBe(2);
  });
});
