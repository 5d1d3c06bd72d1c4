import { randomUUID } from "node:crypto";
import type { JobSpec } from "@plateau/contract";
import {
  createTrainingQueue,
  createTrainingWorker,
  enqueueTraining,
  redisOptions,
  TRAINING_QUEUE,
} from "@plateau/queue";
import { QueueEvents } from "bullmq";
import { median, ms, percentile, progress, type Row } from "./report";
import type { Stack } from "./stack";

const JOBS = 200;
const WARMUP = 5;

/** Trains in a few ms, so the worker is idle again almost at once and each job meets an idle worker. */
const tiny: JobSpec = {
  name: "bench-dispatch",
  model: { layers: [{ class_name: "Dense", config: { units: 1, input_shape: [4] } }] },
  compile: { optimizer: "sgd", loss: "mse" },
  data: { source: "builtin", name: "regression", samples: 16 },
  fit: { epochs: 1, batch_size: 16 },
};

/** Resolves when BullMQ reports the job finished (from its events stream, without polling the API). */
function finishWatcher(events: QueueEvents) {
  const finished = new Set<string>();
  const waiting = new Map<string, () => void>();
  const settle = ({ jobId }: { jobId: string }) => {
    finished.add(jobId);
    waiting.get(jobId)?.();
  };
  events.on("completed", settle);
  events.on("failed", settle);
  return (jobId: string) =>
    new Promise<void>((resolve) => {
      if (finished.has(jobId)) resolve();
      else waiting.set(jobId, resolve);
    });
}

interface Latencies {
  /** created_at → started_at of the job row, the measure. */
  row: number[];
  /** The client's clock just before the POST → started_at (same host): adds parsing and validation. */
  post: number[];
  /** created_at → BullMQ's add time: the API's insert transaction. */
  insert: number[];
  /** BullMQ's add → the worker's move to active. */
  queue: number[];
  /** Active → started_at: the worker reads the job and its last seq, and marks it running. */
  pickup: number[];
}

/** One job at a time: submit, wait until the worker has finished it, so the next one meets an idle worker. */
async function plateauDispatch(stack: Stack): Promise<Latencies> {
  const events = new QueueEvents(TRAINING_QUEUE, {
    connection: redisOptions(stack.config, "subscriber"),
    prefix: stack.config.REDIS_PREFIX,
  });
  // Only to read BullMQ's own timestamps of each job, which split the latency into its parts.
  const queue = createTrainingQueue(stack.config);
  const worker = await stack.startWorker();
  try {
    await events.waitUntilReady();
    const finished = finishWatcher(events);
    const latencies: Latencies = { row: [], post: [], insert: [], queue: [], pickup: [] };
    for (let i = 0; i < WARMUP + JOBS; i++) {
      const postedAt = Date.now();
      const { id } = await stack.client.submitJob(tiny);
      await finished(id);
      const job = await stack.client.getJob(id);
      if (job.status !== "succeeded" || !job.started_at) {
        throw new Error(`dispatch job ${id} ended ${job.status}: ${job.error ?? "no error"}`);
      }
      if (i < WARMUP) continue;
      const startedAt = Date.parse(job.started_at);
      const createdAt = Date.parse(job.created_at);
      const { timestamp: addedAt, processedOn: activeAt = Number.NaN } = (await queue.getJob(id))!;
      latencies.row.push(startedAt - createdAt);
      latencies.post.push(startedAt - postedAt);
      latencies.insert.push(addedAt - createdAt);
      latencies.queue.push(activeAt - addedAt);
      latencies.pickup.push(startedAt - activeAt);
      if ((i - WARMUP + 1) % 50 === 0) progress(`Plateau: ${i - WARMUP + 1}/${JOBS} jobs dispatched`);
    }
    return latencies;
  } finally {
    await Promise.allSettled([worker.stop(), events.close(), queue.close()]);
  }
}

/** BullMQ alone: `queue.add` → a no-op processor starts, same Redis, same queue and worker options. */
async function bullmqDispatch(stack: Stack): Promise<number[]> {
  const config = { ...stack.config, REDIS_PREFIX: `${stack.config.REDIS_PREFIX}-raw-dispatch` };
  const queue = createTrainingQueue(config);
  let started: (at: number) => void = () => {};
  const worker = createTrainingWorker(config, async () => started(performance.now()));
  try {
    await Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]);
    const latencies: number[] = [];
    for (let i = 0; i < WARMUP + JOBS; i++) {
      const id = randomUUID();
      const active = new Promise<number>((resolve) => {
        started = resolve;
      });
      const completed = new Promise<void>((resolve) => {
        const onCompleted = (job: { id?: string }) => {
          if (job.id !== id) return;
          worker.off("completed", onCompleted);
          resolve();
        };
        worker.on("completed", onCompleted);
      });
      const addedAt = performance.now();
      await enqueueTraining(queue, id);
      const activeAt = await active;
      await completed;
      if (i >= WARMUP) latencies.push(activeAt - addedAt);
    }
    return latencies;
  } finally {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

/** POST /v1/jobs → the job row says `running`, one worker process, vs BullMQ's own add → active. */
export async function dispatch(stack: Stack): Promise<Row[]> {
  progress(
    `Plateau: ${JOBS} jobs (after ${WARMUP} warm-up), one worker process ` +
      `(WORKER_CONCURRENCY=${stack.config.WORKER_CONCURRENCY}), one job at a time`,
  );
  const plateau = await plateauDispatch(stack);
  progress(`BullMQ: ${JOBS} no-op jobs (after ${WARMUP} warm-up)`);
  const bullmq = await bullmqDispatch(stack);
  progress(
    `POST sent → started_at (client clock, adds HTTP and spec validation): ` +
      `p50 ${ms(percentile(plateau.post, 50))}, p99 ${ms(percentile(plateau.post, 99))}`,
  );
  progress(
    `created_at → started_at, medians of its parts (BullMQ's ms timestamps): API insert transaction → add ` +
      `${ms(median(plateau.insert))}, add → active ${ms(median(plateau.queue))}, ` +
      `active → started_at (worker reads job + last seq, marks running) ${ms(median(plateau.pickup))}`,
  );
  return [50, 99].map((p) => ({
    benchmark: "dispatch",
    measure: `p${p} created_at → started_at vs add → active (${JOBS} jobs)`,
    plateau: ms(percentile(plateau.row, p)),
    baseline: ms(percentile(bullmq, p)),
    ratio: percentile(plateau.row, p) / percentile(bullmq, p),
  }));
}
