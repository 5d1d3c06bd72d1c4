import { loadConfig } from "@plateau/config";
import {
  appendEvents,
  bestCheckpoint,
  createDataset,
  createDb,
  createJob,
  eventsAfter,
  getJob,
  type JobEvent,
  listAttempts,
  listCheckpoints,
  markRunning,
  requestCancel,
} from "@plateau/db";
import {
  cancelChannel,
  createRedis,
  createTrainingQueue,
  createTrainingWorker,
  enqueueTraining,
  jobEventsChannel,
} from "@plateau/queue";
import { validateJobSpec } from "@plateau/spec";
import { divergingJob, exampleJob } from "@plateau/spec/example";
import {
  checkpointPrefix,
  createStorage,
  datasetKey,
  getObjectText,
  listKeys,
  putObject,
  s3LoadHandler,
  topologyKey,
} from "@plateau/storage";
import { countModelParams, loadData, selectBackend } from "@plateau/training";
import type { Tensor } from "@tensorflow/tfjs";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestTenant } from "../../../test/tenants";
import { until } from "../../../test/until";
import { relayCancels } from "./cancel";
import { createProcessor, type TrainingResult } from "./processor";
import { TrainerPool } from "./trainer/process";

const base = loadConfig();
// A queue of our own under the run's prefix, so no other test's worker takes these jobs.
const config = {
  ...base,
  REDIS_PREFIX: `${base.REDIS_PREFIX}-processor`,
  BATCH_METRICS_EVERY: 2,
  BATCH_METRICS_INTERVAL_MS: 60_000,
  EVENT_FLUSH_MS: 50,
  // These tests count every sampled batch; event-log.int.test.ts tests the cap.
  MAX_EVENTS_PER_SECOND: 100_000,
  // Iris (750 cells) fits; the file of the data-limit test does not.
  MAX_DATA_CELLS: 1000,
};
const db = createDb(config.DATABASE_URL);
const tenant = await createTestTenant(db, "worker");
const storage = createStorage(config);
const queue = createTrainingQueue(config);
const publisher = createRedis(config, "publisher");
const subscriber = createRedis(config, "subscriber");
const workerName = "test-worker";
const backend = await selectBackend(config.TFJS_BACKEND);
const { tf } = backend;
const trainers = new TrainerPool({ backend: config.TFJS_BACKEND, onWarning: () => {} });
const worker = createTrainingWorker(
  config,
  createProcessor({
    config,
    log: pino({ level: process.env.TEST_LOG ?? "silent" }),
    trainers,
    workerName,
    db,
    storage,
    publisher,
  }),
  { name: workerName },
);
let stopRelay: () => Promise<void>;
/** Every live event, by channel. */
const published = new Map<string, { seq: number; type: string }[]>();

/** What the processor returned, by job id. */
const results = new Map<string, TrainingResult>();

beforeAll(async () => {
  worker.on("completed", (job, result) => results.set(job.data.jobId, result));
  // The first trainer's start-up (a process, tfjs and its wasm) is not part of any test's time.
  await trainers.refill();
  stopRelay = await relayCancels(config, worker, pino({ level: "silent" }));
  subscriber.on("pmessage", (_pattern, channel, message) => {
    published.set(channel, [...(published.get(channel) ?? []), ...JSON.parse(message)]);
  });
  await subscriber.psubscribe(`${config.REDIS_PREFIX}:job:*`);
});

afterAll(async () => {
  await worker.close(true);
  trainers.close();
  await stopRelay();
  await queue.obliterate({ force: true });
  await queue.close();
  publisher.disconnect();
  subscriber.disconnect();
  await db.$disconnect();
  storage.client.destroy();
});

const irisExample = exampleJob();

/**
 * What the API does on POST /v1/jobs before enqueueing: validate, store the effective spec with its
 * `queued` event. `bypass` replaces the data after validation, as a row written by hand would.
 */
async function store(body: Record<string, unknown>, bypass?: { data: unknown }): Promise<string> {
  const validation = await validateJobSpec(body, config, (model) => countModelParams(tf, model), tenant.id);
  if (!validation.ok) throw new Error(`invalid test spec: ${JSON.stringify(validation.issues)}`);
  const job = await createJob(db, {
    tenantId: tenant.id,
    name: validation.spec.name,
    spec: { ...validation.spec, ...bypass } as never,
    epochs: validation.spec.fit.epochs,
  });
  await appendEvents(db, [{ jobId: job.id, seq: 1, type: "status", data: { status: "queued" } }]);
  return job.id;
}

async function submit(body: Record<string, unknown>, bypass?: { data: unknown }): Promise<string> {
  const jobId = await store(body, bypass);
  await enqueueTraining(queue, jobId);
  return jobId;
}

const finished = (jobId: string) =>
  until(`job ${jobId} to finish`, async () => {
    const job = await getJob(db, jobId);
    return job && ["succeeded", "failed", "cancelled"].includes(job.status) ? job : null;
  });

/** The job's whole stream once the terminal status event is stored. */
const allEvents = (jobId: string) =>
  until(`job ${jobId}'s terminal event`, async () => {
    const events = await eventsAfter(db, jobId, 0, { limit: 100_000 });
    const last = events.at(-1);
    return last?.type === "status" && (last.data as { status: string }).status !== "running" ? events : null;
  });

const ofType = (events: JobEvent[], type: string) => events.filter((e) => e.type === type);
const logsOf = (event: JobEvent) => (event.data as { logs: Record<string, number | null> }).logs;

describe("training processor (real BullMQ worker, Postgres, Redis, S3)", () => {
  it("runs the issue's iris example: ordered metrics with the rate, decisions, checkpoints in S3", async () => {
    const jobId = await submit({
      ...irisExample,
      // A shorter plateau patience, so a reduction happens within a test-sized run.
      callbacks: [{ ...irisExample.callbacks[0], patience: 2 }, ...irisExample.callbacks.slice(1)],
    });
    const job = await finished(jobId);
    const events = await allEvents(jobId);

    expect(job).toMatchObject({ status: "succeeded", backend: backend.name, worker: workerName });
    expect(["completed", "early_stopping"]).toContain(job.stopReason);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(
      events.filter((e) => e.type === "status").map((e) => (e.data as { status: string }).status),
    ).toEqual(["queued", "running", "succeeded"]);
    expect(events[1].data).toEqual({ status: "running", backend: backend.name, worker: workerName });

    const epochs = ofType(events, "epoch_end");
    expect(epochs.map((e) => e.epoch)).toEqual(epochs.map((_, i) => i));
    expect(epochs.length).toBe(job.epoch! + 1);
    for (const event of epochs) {
      expect(Object.keys(logsOf(event)).sort()).toEqual([
        "acc",
        "learning_rate",
        "loss",
        "val_acc",
        "val_loss",
      ]);
    }
    // 120 training rows in batches of 16: 8 batches an epoch, every second one recorded.
    const batches = ofType(events, "batch_end");
    expect(batches.length).toBe(epochs.length * 4);
    for (const event of batches) expect(logsOf(event).learning_rate).toBeGreaterThan(0);

    const reductions = ofType(events, "callback").filter(
      (e) => (e.data as { action: string }).action === "reduce_lr",
    );
    expect(reductions.length).toBeGreaterThan(0);
    for (const reduction of reductions) {
      const { from, to } = (reduction.data as { details: { from: number; to: number } }).details;
      expect(logsOf(epochs[reduction.epoch!]).learning_rate).toBe(from);
      if (reduction.epoch! + 1 < epochs.length)
        expect(logsOf(epochs[reduction.epoch! + 1]).learning_rate).toBe(to);
    }
    expect(job.learningRate).toBe(logsOf(epochs.at(-1)!).learning_rate);

    // save_best_only: a checkpoint exactly at each new maximum of val_acc.
    const valAcc = epochs.map((e) => logsOf(e).val_acc as number);
    const records = valAcc.flatMap((v, i) => (valAcc.slice(0, i).every((w) => v > w) ? [i] : []));
    const checkpoints = await listCheckpoints(db, jobId);
    expect(checkpoints.map((c) => c.epoch)).toEqual(records);
    const checkpointEvents = ofType(events, "checkpoint");
    expect(checkpointEvents.map((e) => (e.data as { id: string }).id)).toEqual(checkpoints.map((c) => c.id));
    const best = (await bestCheckpoint(db, jobId))!;
    expect(best).toMatchObject({ epoch: records.at(-1), monitor: "val_acc", weightsOnly: true });
    expect(job).toMatchObject({ bestMonitor: "val_acc", bestValue: best.value, bestEpoch: best.epoch });

    // The best checkpoint loads from S3 with the job's topology and scores what was recorded for it.
    const prefix = checkpointPrefix(jobId, best.name);
    expect((await listKeys(storage, prefix)).some((key) => key.endsWith(".bin"))).toBe(true);
    const topology = JSON.parse((await getObjectText(storage, topologyKey(jobId)))!);
    const model = await tf.loadLayersModel(s3LoadHandler(storage, prefix, { modelTopology: topology }));
    const { train } = loadData(tf, { source: "builtin", name: "iris" });
    const [x, y] = [(train.x as Tensor).slice(120), train.y.slice(120)];
    const predicted = (model.predict(x) as Tensor).argMax(-1);
    const accuracy = (await predicted.equal(y.cast("int32")).mean().data())[0];
    expect(accuracy).toBeCloseTo(best.value!, 5);

    // Live fan-out: every event the worker wrote, published in seq order.
    const live = await until("live events", async () => {
      const messages = published.get(jobEventsChannel(config, jobId)) ?? [];
      return messages.length === events.length - 1 ? messages : null;
    });
    expect(live.map((m) => m.seq)).toEqual(events.slice(1).map((e) => e.seq));
  });

  it("frees every tensor a job allocated, so a trainer that trains job after job does not grow", async () => {
    const spec = { ...exampleJob(), name: "memory", fit: { ...irisExample.fit, epochs: 3 } };
    const held = new Map<number, number[]>();
    for (let i = 0; i < 4; i++) {
      const jobId = await submit(spec);
      await finished(jobId);
      const { trainer } = await until("the job's result", async () => results.get(jobId));
      held.set(trainer!.pid!, [...(held.get(trainer!.pid!) ?? []), trainer!.tensors!]);
    }
    const reused = [...held.values()].filter((counts) => counts.length >= 2);
    expect(reused.length).toBeGreaterThan(0);
    // Counted after each job's tensors are freed: tfjs's own caches, the same after every job.
    for (const counts of reused) expect(counts).toEqual(counts.map(() => counts[0]));
  });

  it("ends a diverging job as cancelled/nan_loss at the first non-finite batch; the best checkpoint survives", async () => {
    // Unnormalized inputs (1…64) and y = 3x: fine at lr 1e-5, diverging once a rule sets 1e6 at epoch 2.
    const jobId = await submit({ ...divergingJob(), name: "diverging" });
    const job = await finished(jobId);
    const events = await allEvents(jobId);

    const nan = ofType(events, "callback").find((e) => (e.data as { action: string }).action === "nan")!;
    expect(job).toMatchObject({
      status: "cancelled",
      stopReason: "nan_loss",
      stopDetails: { epoch: 2, batch: nan.batch },
    });
    expect(["NaN", "Infinity", "-Infinity"]).toContain((job.stopDetails as { value: string }).value);
    expect(nan.epoch).toBe(2);
    // Training stopped in that batch: nothing was recorded after it.
    const lastBatch = ofType(events, "batch_end").at(-1)!;
    expect([lastBatch.epoch, lastBatch.batch! <= nan.batch!]).toEqual([2, true]);
    expect(Math.max(...ofType(events, "epoch_end").map((e) => e.epoch!))).toBe(2);
    expect(events.at(-1)!.data).toMatchObject({
      status: "cancelled",
      stop_reason: "nan_loss",
      details: { epoch: 2, batch: nan.batch },
    });

    // tfjs skips the NaN epoch's validation, so ModelCheckpoint found no val_loss at its end and, as Keras
    // does then, asked to save: the worker kept the NaN weights out of storage and said so.
    const checkpoints = await listCheckpoints(db, jobId);
    expect(checkpoints.length).toBeGreaterThan(0);
    for (const checkpoint of checkpoints) expect(checkpoint.epoch).toBeLessThan(nan.epoch!);
    const skipped = ofType(events, "callback").filter(
      (e) => (e.data as { action: string }).action === "checkpoint_skipped",
    );
    expect(skipped.map((e) => [e.epoch, e.data])).toEqual([
      [
        2,
        {
          callback: "ModelCheckpoint",
          action: "checkpoint_skipped",
          details: { reason: "nan_loss", filepath: "epoch-0003" },
        },
      ],
    ]);
    expect(ofType(events, "checkpoint").every((e) => e.epoch! < nan.epoch!)).toBe(true);

    const best = (await bestCheckpoint(db, jobId))!;
    expect(best.epoch).toBeLessThan(2);
    expect(Number.isFinite(best.value)).toBe(true);
    const model = await tf.loadLayersModel(s3LoadHandler(storage, checkpointPrefix(jobId, best.name)));
    const prediction = (await (model.predict(tf.tensor2d([[10]])) as Tensor).data())[0];
    expect(Number.isFinite(prediction)).toBe(true);
  });

  it("lets a redelivered attempt take over a job an earlier worker left running, continuing its stream", async () => {
    const jobId = await store({ ...irisExample, name: "taken-over", fit: { ...irisExample.fit, epochs: 2 } });
    // What a worker that died mid-job leaves: the row running under it and its stream's first events.
    const crashed = { backend: "gone", worker: "crashed:1" };
    await markRunning(db, jobId, crashed);
    await appendEvents(db, [{ jobId, seq: 2, type: "status", data: { status: "running", ...crashed } }]);
    await enqueueTraining(queue, jobId);

    const job = await finished(jobId);
    expect(job).toMatchObject({ status: "succeeded", backend: backend.name, worker: workerName, attempt: 2 });
    const events = await allEvents(jobId);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    // It left no snapshot: the second attempt says so and trains from the start.
    expect(events[2]).toMatchObject({
      type: "resumed",
      attempt: 2,
      data: { attempt: 2, from_epoch: 0, previous: { attempt: 1, ending: "worker_lost" }, rolled_back: 0 },
    });
    expect(events[3].data).toEqual({ status: "running", backend: backend.name, worker: workerName });
    expect(ofType(events, "epoch_end").map((e) => e.epoch)).toEqual([0, 1]);
    expect((await listAttempts(db, jobId)).map((a) => [a.attempt, a.worker, a.ending])).toEqual([
      [1, "crashed:1", "worker_lost"],
      [2, workerName, "completed"],
    ]);
  });

  it("stops a running job within a batch of its cancel message, as cancelled/user_cancel", async () => {
    const jobId = await submit({ ...irisExample, name: "long", fit: { ...irisExample.fit, epochs: 1000 } });
    await until(
      "a few epochs",
      async () => (await eventsAfter(db, jobId, 0, { limit: 1000, types: ["epoch_end"] })).length >= 3,
    );
    // What the API does on POST /v1/jobs/:id/cancel for a running job.
    expect((await requestCancel(db, jobId, { tenantId: tenant.id })).outcome).toBe("cancel_requested");
    const cancelledAt = Date.now();
    await publisher.publish(cancelChannel(config), jobId);
    const job = await finished(jobId);
    const stoppedWithin = Date.now() - cancelledAt;

    expect(job).toMatchObject({ status: "cancelled", stopReason: "user_cancel" });
    expect(job.stopDetails).toMatchObject({ epoch: job.epoch, batch: expect.any(Number) });
    // An epoch of iris is 8 batches of milliseconds each; stopping at the next batch end is far below this.
    expect(stoppedWithin).toBeLessThan(2000);
    const events = await allEvents(jobId);
    expect(events.at(-1)!.data).toMatchObject({ status: "cancelled", stop_reason: "user_cancel" });
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  });

  it("fails jobs whose data or model cannot work with a message naming the fix, and takes the next job", async () => {
    await putObject(
      storage,
      `uploads/${tenant.id}/flowers.csv`,
      "petal_length,petal_width,kind\n1.4,0.2,setosa\n4.7,1.4,versicolor\n",
    );
    const badColumn = await submit({
      ...irisExample,
      name: "bad-column",
      data: {
        source: "uri",
        uri: `s3://${storage.bucket}/uploads/${tenant.id}/flowers.csv`,
        label: "species",
      },
      fit: { epochs: 2 },
      callbacks: [],
    });
    // Refused at submission; the worker checks again for rows that never went through the API.
    const unchecked = { ...irisExample, fit: { epochs: 2 }, callbacks: [] };
    const otherBucket = await submit(unchecked, {
      data: { source: "uri", uri: "s3://someone-elses-bucket/train.csv", label: "species" },
    });
    const climbing = await submit(unchecked, {
      data: { source: "uri", uri: `s3://${storage.bucket}/uploads/../jobs/x/model.json`, label: "species" },
    });
    // Refused at submission too (the model against builtin data); a row written by hand fails before fit.
    const wrongShape = await submit(
      {
        ...irisExample,
        name: "wrong-shape",
        model: {
          layers: [{ class_name: "Dense", config: { units: 3, activation: "softmax", input_shape: [3] } }],
        },
        data: { source: "inline", x: [[1, 2, 3]], y: [0] },
        fit: { epochs: 2 },
        callbacks: [],
      },
      { data: irisExample.data },
    );
    const datasetId = "0b7f6c1e-2f57-4c43-9a55-0d1f0e5e8a11";
    const key = datasetKey(datasetId, "iris.jsonl");
    const rows = loadData(tf, { source: "builtin", name: "iris" }).train;
    const [xs, ys] = [(await (rows.x as Tensor).array()) as number[][], (await rows.y.array()) as number[]];
    await putObject(
      storage,
      key,
      xs.map((x, i) => JSON.stringify({ a: x[0], b: x[1], c: x[2], d: x[3], label: ys[i] })).join("\n"),
    );
    await createDataset(db, {
      id: datasetId,
      tenantId: tenant.id,
      filename: "iris.jsonl",
      format: "jsonl",
      key,
      sizeBytes: 1,
      columns: [],
      rows: 150,
    });
    const next = await submit({
      ...irisExample,
      name: "next",
      data: { source: "dataset", id: datasetId, label: "label" },
      fit: { epochs: 2, validation_split: 0.2 },
      callbacks: [],
    });

    expect(await finished(badColumn)).toMatchObject({
      status: "failed",
      stopReason: "error",
      error: expect.stringMatching(
        /^\/data\/label: label column 'species' not found; columns are: petal_length, petal_width, kind in s3:\/\//,
      ),
    });
    expect((await finished(otherBucket)).error).toMatch(
      /^\/data\/uri: names bucket "someone-elses-bucket"; jobs read only this service's bucket/,
    );
    expect((await finished(climbing)).error).toMatch(/^\/data\/uri: key must be .*no "\.\."/);
    expect((await finished(wrongShape)).error).toMatch(
      /^\/data: has samples of shape \[4\], but the model's input takes \[3\]/,
    );
    for (const jobId of [badColumn, otherBucket, climbing, wrongShape]) {
      const events = await allEvents(jobId);
      expect(events.at(-1)!.data).toMatchObject({
        status: "failed",
        stop_reason: "error",
        error: expect.any(String),
      });
    }
    expect(await finished(next)).toMatchObject({
      status: "succeeded",
      stopReason: "completed",
      worker: workerName,
      epoch: 1,
    });
  });

  it("fails a job whose file data exceeds MAX_DATA_CELLS once, saying what to change, without retrying it", async () => {
    const datasetId = "5d0c1b7e-8e0a-4b9f-a3a4-3f8f5c2b9e10";
    const key = datasetKey(datasetId, "big.csv");
    const lines = Array.from({ length: 400 }, (_, i) => `${i},${i % 7},${i % 3}`);
    await putObject(storage, key, ["a,b,label", ...lines].join("\n"));
    await createDataset(db, {
      id: datasetId,
      tenantId: tenant.id,
      filename: "big.csv",
      format: "csv",
      key,
      sizeBytes: 1,
      columns: [],
      rows: 400,
    });
    const jobId = await submit({
      ...irisExample,
      name: "too-big",
      model: {
        layers: [{ class_name: "Dense", config: { units: 3, activation: "softmax", input_shape: [2] } }],
      },
      data: { source: "dataset", id: datasetId, label: "label" },
      fit: { epochs: 2 },
      callbacks: [],
    });
    expect(await finished(jobId)).toMatchObject({
      status: "failed",
      stopReason: "error",
      error: `/data: dataset ${datasetId} reaches 334 rows × 3 columns (2 features + 1 label) = 1,002 cells at line 335; this service accepts at most 1,000 cells of data per job, training and validation together (MAX_DATA_CELLS): use fewer rows, or fewer feature columns with data.features`,
    });
    const events = await allEvents(jobId);
    const statuses = events
      .filter((e) => e.type === "status")
      .map((e) => (e.data as { status: string }).status);
    expect(statuses).toEqual(["queued", "running", "failed"]);
    expect((await queue.getJob(jobId))?.attemptsMade ?? 0).toBeLessThanOrEqual(1);
  });

  it.each([
    [
      "a Rule expression that fails while training",
      // biome-ignore lint/suspicious/noThenProperty: `then` is the Rule spec's field, never a function.
      { type: "Rule", then: { set_learning_rate: "lr / (epoch - epoch)" } },
      /^Rule on epoch_end: "lr \/ \(epoch - epoch\)": division by zero/,
    ],
    [
      "a schedule that gives an impossible rate",
      { type: "LearningRateScheduler", schedule: "lr - 1" },
      /^LearningRateScheduler: the schedule gave learning rate -/,
    ],
    [
      "a filepath naming a value the logs lack",
      { type: "ModelCheckpoint", monitor: "loss", filepath: "b-{batch:03d}" },
      /^ModelCheckpoint filepath "b-\{batch:03d\}": filepath field '\{batch\}' has no value/,
    ],
  ])("fails a job once when %s: the spec must change, so it is not retried", async (_, callback, message) => {
    const jobId = await submit({
      ...irisExample,
      name: "user-mistake",
      fit: { epochs: 2 },
      callbacks: [callback],
    });
    expect(await finished(jobId)).toMatchObject({
      status: "failed",
      stopReason: "error",
      error: expect.stringMatching(message),
    });
    const statuses = (await allEvents(jobId))
      .filter((e) => e.type === "status")
      .map((e) => (e.data as { status: string }).status);
    expect(statuses).toEqual(["queued", "running", "failed"]);
  });
});
