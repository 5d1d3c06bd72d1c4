import type { Config } from "@plateau/config";
import { type Job, type JobsOptions, Queue, Worker, type WorkerOptions } from "bullmq";
import { redisOptions } from "./connections";

export const TRAINING_QUEUE = "training";

/** BullMQ carries only the Plateau job id; the spec and everything else live in Postgres. */
export interface TrainingJobData {
  jobId: string;
}

export type TrainingQueue = Queue<TrainingJobData>;
export type TrainingJob = Job<TrainingJobData>;

/**
 * - `jobId` (set per job in `enqueueTraining`) is the Plateau job id: adding an id BullMQ already holds
 *   is a no-op, so a retried POST or the reconciler re-enqueueing `queued` rows never trains twice.
 * - `attempts: 3` with exponential backoff: the processor records the user's mistakes (bad data, shape
 *   errors) as a failed job and returns, so a throw means our side failed (Postgres or S3 briefly
 *   unreachable) and is worth retrying. Throw BullMQ's UnrecoverableError to skip the retries.
 * - Finished entries are trimmed: Postgres holds the history, Redis keeps a day of them (bounded) for
 *   inspection; while an entry remains, re-adding its id stays a no-op.
 */
export const TRAINING_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: "exponential", delay: 5_000 },
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
};

/**
 * Crashed workers: a job's lock must be renewed by its worker (every lockDuration / 2); when the worker
 * dies the lock expires and another worker's stalled check moves the job back to `wait`, where any worker
 * resumes it from its snapshot. Training runs in a trainer process of its own, so the worker's event loop
 * renews on time whatever a batch costs, and the lock can be short: a dead worker's job is picked up
 * within lockDuration + stalledInterval = 14 s. After `maxStalledCount` recoveries the job is failed
 * rather than crash-looping the fleet (the reconciler records why in Postgres).
 */
export const TRAINING_WORKER_SETTINGS = {
  lockDuration: 10_000,
  stalledInterval: 4_000,
  maxStalledCount: 3,
} satisfies Partial<WorkerOptions>;

/** The queue the API enqueues into; `queue.close()` also closes its Redis connection. */
export function createTrainingQueue(config: Pick<Config, "REDIS_URL" | "REDIS_PREFIX">): TrainingQueue {
  return new Queue<TrainingJobData>(TRAINING_QUEUE, {
    connection: redisOptions(config, "queue"),
    prefix: config.REDIS_PREFIX,
    defaultJobOptions: TRAINING_JOB_OPTIONS,
  });
}

/**
 * A worker over the training queue; `worker.close()` waits for running jobs and closes its connections.
 * The processor's third argument is an AbortSignal that `worker.cancelJob(jobId)` fires.
 */
export function createTrainingWorker<Result>(
  config: Pick<Config, "REDIS_URL" | "REDIS_PREFIX" | "WORKER_CONCURRENCY">,
  processor: (
    job: TrainingJob,
    token: string | undefined,
    signal: AbortSignal | undefined,
  ) => Promise<Result>,
  options: Pick<WorkerOptions, "name" | "autorun"> = {},
): Worker<TrainingJobData, Result> {
  return new Worker<TrainingJobData, Result>(TRAINING_QUEUE, processor, {
    connection: redisOptions(config, "worker"),
    prefix: config.REDIS_PREFIX,
    concurrency: config.WORKER_CONCURRENCY,
    ...TRAINING_WORKER_SETTINGS,
    ...options,
  });
}

/** Enqueues a Plateau job (idempotent: the BullMQ job id is the Plateau job id). */
export async function enqueueTraining(queue: TrainingQueue, jobId: string): Promise<void> {
  await queue.add(TRAINING_QUEUE, { jobId }, { jobId });
}

/** Enqueues Plateau jobs in one round trip (BullMQ's addBulk: one MULTI), each as enqueueTraining would. */
export async function enqueueTrainingBulk(queue: TrainingQueue, jobIds: string[]): Promise<void> {
  if (jobIds.length === 0) return;
  await queue.addBulk(jobIds.map((jobId) => ({ name: TRAINING_QUEUE, data: { jobId }, opts: { jobId } })));
}

// States in which no worker holds the job yet.
const NOT_STARTED = new Set(["waiting", "prioritized", "delayed"]);

/**
 * Removes a job no worker has picked up yet (waiting, or delayed before a retry). True if it was waiting
 * and is now gone; false if it is running, finished or unknown. BullMQ refuses to remove a locked job,
 * so one that became active between the two calls is reported as false; one that also finished in
 * that instant would be reported as removed, which the worker's cancel-mark check at start covers.
 */
export async function removeQueued(queue: TrainingQueue, jobId: string): Promise<boolean> {
  const state = await queue.getJobState(jobId);
  if (!NOT_STARTED.has(state)) return false;
  return (await queue.remove(jobId)) === 1;
}
