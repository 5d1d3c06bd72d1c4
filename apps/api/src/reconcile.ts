import { randomUUID } from "node:crypto";
import { finishJob, unfinishedJobs } from "@plateau/db";
import { enqueueTraining } from "@plateau/queue";
import type { ApiDeps } from "./deps";
import { appendStatus } from "./job-events";

type ReconcileDeps = Pick<ApiDeps, "db" | "queue" | "redis" | "config">;

/** What one pass repaired, by job id. */
export interface ReconcileReport {
  /** Postgres held them as queued or running, the queue had no entry at all (never enqueued, or Redis lost its data). */
  enqueued: string[];
  /** The queue failed them for good (attempts or stalls used up) while Postgres still had them unfinished. */
  failed: string[];
}

// Rows per Postgres page, and the most a pass looks at: a pass stays well inside the lock's lifetime.
const PAGE = 500;
const MAX_PER_PASS = 10_000;
const LOCK_TTL_MS = 60_000;

/**
 * Postgres is the source of truth for what should run, BullMQ for what is running; this makes them agree
 * for every job Postgres holds as `queued` or `running`:
 * - no queue entry at all (the submit's enqueue failed after the row was stored, or Redis restarted
 *   without its data): enqueued again. The BullMQ job id is the job id, so this never runs a job twice,
 *   and a running job's worker resumes it from its snapshot;
 * - failed for good in the queue (its attempts or stalled-recoveries used up, e.g. a worker OOM-killed
 *   each time) while Postgres never heard: failed with the queue's reason, and its terminal `status`
 *   event written, so clients following it stop waiting;
 * - waiting, delayed, prioritized or active: left alone, a worker has it or will;
 * - completed: left alone, the worker records the outcome itself before it completes the queue entry.
 *
 * One pass at a time across every API instance: a Redis lock with an expiry (a crashed holder frees it
 * within LOCK_TTL_MS). Each repair is safe without it too: enqueueing is idempotent and failing is a
 * guarded update that only one caller wins, and only the winner writes the status event.
 * Null when another instance holds the lock.
 */
export async function reconcileQueue(deps: ReconcileDeps): Promise<ReconcileReport | null> {
  const lock = `${deps.config.REDIS_PREFIX}:reconcile:lock`;
  const token = randomUUID();
  if ((await deps.redis.set(lock, token, "PX", LOCK_TTL_MS, "NX")) !== "OK") return null;
  try {
    return await reconcilePass(deps);
  } finally {
    await deps.redis.eval(RELEASE_IF_OURS, 1, lock, token).catch(() => {});
  }
}

const RELEASE_IF_OURS = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end return 0`;

async function reconcilePass(deps: ReconcileDeps): Promise<ReconcileReport> {
  const report: ReconcileReport = { enqueued: [], failed: [] };
  let after: { createdAt: Date; id: string } | undefined;
  for (let seen = 0; seen < MAX_PER_PASS; seen += PAGE) {
    const jobs = await unfinishedJobs(deps.db, { limit: PAGE, after });
    for (const job of jobs) await reconcileJob(deps, job.id, report);
    if (jobs.length < PAGE) break;
    after = jobs.at(-1);
  }
  return report;
}

async function reconcileJob(deps: ReconcileDeps, id: string, report: ReconcileReport): Promise<void> {
  const entry = await deps.queue.getJob(id);
  if (!entry) {
    await enqueueTraining(deps.queue, id);
    report.enqueued.push(id);
    return;
  }
  if ((await entry.getState()) !== "failed") return;
  const error = `The queue gave up on this job after ${entry.attemptsMade} attempt${entry.attemptsMade === 1 ? "" : "s"}: ${entry.failedReason || "no reason given"}`;
  const finished = await finishJob(deps.db, id, { stopReason: "error", error });
  if (!finished) return;
  await appendStatus(deps, id, { status: "failed", stop_reason: "error", error: finished.error ?? error });
  report.failed.push(id);
}

/**
 * Runs reconcileQueue at start and then every RECONCILE_INTERVAL_MS (never two passes of this instance at
 * once); a pass that fails (Postgres or Redis down) is logged and the next one tries again. Returns the
 * function that stops it and waits for a running pass.
 */
export function startReconciler(
  deps: ReconcileDeps & Pick<ApiDeps, "log">,
  intervalMs = deps.config.RECONCILE_INTERVAL_MS,
): () => Promise<void> {
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const pass = () => {
    running = reconcileQueue(deps).then(
      (report) => {
        if (report && report.enqueued.length + report.failed.length > 0) {
          deps.log.warn(report, "reconciled the queue with Postgres");
        }
      },
      (error) => deps.log.warn({ err: error }, "could not reconcile the queue with Postgres; retrying later"),
    );
    return running;
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => void pass().then(schedule), intervalMs);
    timer.unref();
  };
  let timer: NodeJS.Timeout | undefined;
  void pass().then(schedule);
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}
