import { readFileSync } from "node:fs";
import { loadConfig } from "@plateau/config";
import {
  appendEvents,
  bestCheckpoint,
  createDb,
  createJob,
  eventsAfter,
  getJob,
  type Job,
  type JobEvent,
  listAttempts,
} from "@plateau/db";
import { createTrainingQueue, enqueueTraining } from "@plateau/queue";
import { validateJobSpec } from "@plateau/spec";
import { countModelParams, selectBackend } from "@plateau/training";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestTenant } from "../../../test/tenants";
import { until } from "../../../test/until";
import { startWorkerProcess, type WorkerProcess } from "./test-worker-process";

/**
 * Durable jobs with real processes: two workers on one queue, one of them killed (SIGKILL) or stopped
 * (SIGTERM) while it trains a seeded job; the other resumes it from its snapshot and must make the decisions
 * an uninterrupted run of the same job makes.
 */

const base = loadConfig();
const config = { ...base, REDIS_PREFIX: `${base.REDIS_PREFIX}-resume` };
// Every batch's metrics kept, so the two runs' histories compare whole.
const env = {
  REDIS_PREFIX: config.REDIS_PREFIX,
  EVENT_FLUSH_MS: "50",
  MAX_EVENTS_PER_SECOND: "1000000",
  BATCH_METRICS_EVERY: "1",
};
const db = createDb(config.DATABASE_URL);
const queue = createTrainingQueue(config);
const tenant = await createTestTenant(db, "resume");
const { tf } = await selectBackend(config.TFJS_BACKEND);
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  workers.push(startWorkerProcess(env), startWorkerProcess(env));
  await Promise.all(workers.map((worker) => worker.waitFor("worker ready", 120_000)));
});

afterAll(async () => {
  for (const worker of workers) worker.child.kill("SIGKILL");
  await queue.obliterate({ force: true });
  await queue.close();
  await db.$disconnect();
});

/** Dropout draws, shuffles, plateaus, a schedule, early stopping and a best checkpoint: every decision kind. */
const job = {
  name: "resumable",
  seed: 1234,
  model: {
    layers: [
      { class_name: "Dense", config: { units: 32, activation: "relu", input_shape: [2] } },
      { class_name: "Dropout", config: { rate: 0.2 } },
      { class_name: "Dense", config: { units: 32, activation: "relu" } },
      { class_name: "Dense", config: { units: 2, activation: "softmax" } },
    ],
  },
  compile: {
    optimizer: { name: "adam", learning_rate: 0.03 },
    loss: "sparse_categorical_crossentropy",
    metrics: ["accuracy"],
  },
  data: { source: "builtin", name: "spirals", samples: 1200, seed: 3, noise: 0.5 },
  // 960 training rows: 60 batches an epoch, a resume snapshot after every 10th (and a second since the last).
  fit: { epochs: 40, batch_size: 16, validation_split: 0.2, shuffle: true },
  resume: { every_n_batches: 10 },
  callbacks: [
    { type: "LearningRateScheduler", schedule: "epoch < 4 ? lr : lr * 0.97" },
    { type: "ReduceLROnPlateau", monitor: "val_loss", factor: 0.5, patience: 1 },
    { type: "EarlyStopping", monitor: "val_loss", patience: 3, min_delta: 0.005, restore_best_weights: true },
    { type: "ModelCheckpoint", filepath: "best", monitor: "val_loss", save_best_only: true },
  ],
};

async function submit(): Promise<string> {
  const validation = await validateJobSpec(job, config, (model) => countModelParams(tf, model), tenant.id);
  if (!validation.ok) throw new Error(`invalid test spec: ${JSON.stringify(validation.issues)}`);
  const row = await createJob(db, {
    tenantId: tenant.id,
    name: job.name,
    spec: validation.spec as never,
    epochs: job.fit.epochs,
  });
  await appendEvents(db, [{ jobId: row.id, seq: 1, type: "status", data: { status: "queued" } }]);
  await enqueueTraining(queue, row.id);
  return row.id;
}

/** Whole training runs on a shared machine: two minutes each. */
const patiently = { timeoutMs: 120_000, everyMs: 20 };

const ended = (jobId: string) =>
  until(
    `job ${jobId} to end`,
    async () => {
      const row = await getJob(db, jobId);
      return row && ["succeeded", "failed", "cancelled"].includes(row.status) ? row : null;
    },
    patiently,
  );

const history = (jobId: string) => eventsAfter(db, jobId, 0, { limit: 100_000 });
const epochEnds = async (jobId: string) => (await history(jobId)).filter((e) => e.type === "epoch_end");

/** What a user can see of how training went: per-epoch metrics and rates, where it stopped, the best. */
async function decisions(jobId: string, row: Job) {
  const epochs = await epochEnds(jobId);
  const logs = (event: JobEvent) => (event.data as { logs: Record<string, number> }).logs;
  return {
    epochs: epochs.map((e) => e.epoch),
    learningRates: epochs.map((e) => logs(e).learning_rate),
    losses: epochs.map((e) => logs(e).loss),
    stopReason: row.stopReason,
    stoppedAt: row.epoch,
    bestEpoch: (await bestCheckpoint(db, jobId))?.epoch,
    callbacks: (await history(jobId))
      .filter((e) => e.type === "callback")
      .map((e) => [e.epoch, (e.data as { callback: string; action: string }).action]),
  };
}

/** The worker process training `jobId` now. */
async function trainingWorker(jobId: string): Promise<WorkerProcess> {
  const row = await getJob(db, jobId);
  const pid = Number(row!.worker!.split(":").at(-1));
  return workers.find((worker) => worker.child.pid === pid)!;
}

type Point = { epoch: number; batch?: number };
const resumePoint = async (jobId: string) => (await getJob(db, jobId))?.resumePoint as Point | null;

/** Each epoch's batch metrics in its history: every batch of it once, in order, whichever attempt trained it. */
async function expectContiguousBatches(jobId: string): Promise<void> {
  const batches = (await history(jobId)).filter((e) => e.type === "batch_end");
  for (const epoch of new Set(batches.map((e) => e.epoch))) {
    const indices = batches.filter((e) => e.epoch === epoch).map((e) => e.batch);
    expect(indices).toEqual(indices.map((_, i) => i));
  }
}

/** Where a resumed attempt continued: [epoch, batch]. */
function resumedAt(resumed: JobEvent | undefined): [number, number] | undefined {
  const data = resumed?.data as { from_epoch: number; from_batch: number } | undefined;
  return data && [data.from_epoch, data.from_batch];
}

/** A worker's trainer processes (the one training and a warm one), from /proc. */
function trainersOf(worker: WorkerProcess): number[] {
  const pid = worker.child.pid!;
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
  return children ? children.split(/\s+/).map(Number) : [];
}

describe("a job outlives its worker", () => {
  let reference: Awaited<ReturnType<typeof decisions>>;

  beforeAll(async () => {
    const jobId = await submit();
    reference = await decisions(jobId, await ended(jobId));
    // The run this test compares with stops early, after plateaus, with a best checkpoint before the end.
    expect(reference.stopReason).toBe("early_stopping");
    expect(reference.callbacks.map(([, action]) => action)).toContain("reduce_lr");
  }, 180_000);

  it("is resumed by another worker after its worker is killed (SIGKILL) mid-epoch, with the same decisions", async () => {
    const jobId = await submit();
    // Frozen once it stored a snapshot inside an epoch (they are a second apart): the newest is then known.
    await until(
      "a snapshot inside an epoch",
      async () => {
        const point = await resumePoint(jobId);
        return point && point.epoch >= 3 && (point.batch ?? 0) > 0;
      },
      patiently,
    );
    const victim = await trainingWorker(jobId);
    const trainers = trainersOf(victim);
    for (const pid of trainers) process.kill(pid, "SIGSTOP");
    await new Promise((resolve) => setTimeout(resolve, 500));
    const newest = await resumePoint(jobId);
    const killedAt = Date.now();
    victim.child.kill("SIGKILL");
    for (const pid of trainers) process.kill(pid, "SIGKILL");
    const resumed = await until(
      "the resumed attempt's first epoch",
      async () => {
        const events = await history(jobId);
        const mark = events.find((e) => e.type === "resumed");
        return mark && events.some((e) => e.type === "epoch_end" && e.seq > mark.seq) ? mark : null;
      },
      patiently,
    );
    const secondsToResume = (Date.now() - killedAt) / 1000;
    console.log(
      `kill -9 → the next worker trains the job again: ${secondsToResume.toFixed(1)} s, from epoch ${newest?.epoch} batch ${newest?.batch}`,
    );

    const row = await ended(jobId);
    expect(row.status).toBe("succeeded");
    expect(await decisions(jobId, row)).toEqual(reference);
    // One contiguous history: every epoch once, although the dead attempt trained some twice.
    const epochs = (await epochEnds(jobId)).map((e) => e.epoch);
    expect(epochs).toEqual(epochs.map((_, i) => i));
    await expectContiguousBatches(jobId);
    expect(resumed.data).toMatchObject({ attempt: 2, previous: { attempt: 1, ending: "worker_lost" } });
    // At the batch of its newest snapshot.
    expect(newest?.batch).toBeGreaterThan(0);
    expect(resumedAt(resumed)).toEqual([newest?.epoch, newest?.batch]);
    const attempts = await listAttempts(db, jobId);
    expect(attempts.map((a) => [a.attempt, a.ending])).toEqual([
      [1, "worker_lost"],
      [2, "completed"],
    ]);
    expect([attempts[1].resumedFromEpoch, attempts[1].resumedFromBatch]).toEqual(resumedAt(resumed));
    // The queue noticed the dead worker by its lapsed lock.
    expect((await queue.getJob(jobId))?.stalledCounter).toBe(1);
    workers.splice(workers.indexOf(victim), 1, startWorkerProcess(env));
  }, 180_000);

  it("is handed back on SIGTERM and finished by another worker at once, with the same decisions", async () => {
    await Promise.all(workers.map((worker) => worker.waitFor("worker ready", 120_000)));
    const jobId = await submit();
    await until(
      "batch 25 of epoch 4",
      async () =>
        (await history(jobId)).some((e) => e.type === "batch_end" && e.epoch === 4 && (e.batch ?? 0) >= 25),
      patiently,
    );
    const stopping = await trainingWorker(jobId);
    const stoppedAt = Date.now();
    stopping.child.kill("SIGTERM");
    expect(await stopping.exited).toBe(0);
    const row = await ended(jobId);
    expect(row.status).toBe("succeeded");
    expect(await decisions(jobId, row)).toEqual(reference);
    const attempts = await listAttempts(db, jobId);
    expect(attempts.map((a) => a.ending)).toEqual(["shutdown", "completed"]);
    // From the batch where it stopped (or, stopped at an epoch's last batch, that epoch's newest snapshot).
    const [epoch, batch] = resumedAt((await history(jobId)).find((e) => e.type === "resumed")) ?? [];
    expect(epoch).toBeGreaterThanOrEqual(4);
    expect(batch).toBeGreaterThan(0);
    expect([attempts[1].resumedFromEpoch, attempts[1].resumedFromBatch]).toEqual([epoch, batch]);
    await expectContiguousBatches(jobId);
    // Moved back to waiting by its worker, not recovered by the queue after its lock expired.
    expect((await queue.getJob(jobId))?.stalledCounter).toBe(0);
    const handedOver = attempts[1].startedAt.getTime() - stoppedAt;
    console.log(`SIGTERM → the next worker starts the job: ${(handedOver / 1000).toFixed(1)} s`);
    workers.splice(workers.indexOf(stopping), 1, startWorkerProcess(env));
  }, 180_000);
});
