import { randomUUID } from "node:crypto";
import type { Job, JobSpec } from "@plateau/contract";
import { type Prisma, storeQueuedJobs } from "@plateau/db";
import { enqueueTrainingBulk, pingQueue, withinRedisDeadline } from "@plateau/queue";
import type { ApiDeps } from "./deps";
import { unavailableDependency } from "./errors";
import type { Idempotency } from "./idempotency";
import { jobView } from "./job-view";
import { lockActiveJobQuotas, quotaExceeded } from "./quotas";

/** A validated job to store and queue, for a caller. */
export interface Submission {
  tenantId: string;
  submittedBy: string;
  spec: JobSpec;
  /** With an idempotency claim, the answer is stored in the transaction that stores the job. */
  idempotency: { held: Idempotency; requestHash: string } | null;
}

interface Pending extends Submission {
  id: string;
  resolve(job: Job): void;
  reject(error: unknown): void;
}

/**
 * A burst of one tenant's submissions queues on its quota lock (lockActiveJobQuotas): each waits its turn,
 * rather than failing at Prisma's default 2 s (connection) / 5 s (transaction) limits on a busy machine.
 */
const SUBMIT_TRANSACTION = { maxWait: 10_000, timeout: 20_000 };
/** Bounds one transaction's INSERT (each row carries its spec). */
const MAX_BATCH = 64;

/**
 * Stores and queues submitted jobs with group commit: submissions that arrive while a batch is being
 * written wait for the next one, which stores them all in one transaction (quota locks, then one
 * statement inserting the jobs and their first events) and queues them with one BullMQ addBulk. An idle
 * API writes a batch of one at once, so nothing waits for a timer. Each submission still resolves only
 * once its job is committed and handed to the queue: a 201 means the job is stored and queued.
 */
export function createSubmitter(deps: Pick<ApiDeps, "db" | "queue" | "config" | "log">) {
  const waiting: Pending[] = [];
  let writing = false;

  async function drain(): Promise<void> {
    writing = true;
    try {
      while (waiting.length > 0) {
        const batch = waiting.splice(0, MAX_BATCH);
        await write(batch).catch((error: unknown) => {
          for (const pending of batch) pending.reject(error);
        });
      }
    } finally {
      writing = false;
    }
  }

  async function write(batch: Pending[]): Promise<void> {
    try {
      // Redis down or frozen: a 503 before anything is stored (pingQueue gives up within a second), so
      // a client that retries never makes a job the queue does not hold.
      await pingQueue(deps.queue);
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    let stored: Map<Pending, Job | Error>;
    try {
      stored = await store(batch);
    } catch (error) {
      // One submission's failure (a statement Postgres refused) is its own: the others are stored alone.
      // When Postgres is down, each would only fail the same way.
      if (batch.length === 1 || unavailableDependency(error) !== null) {
        for (const pending of batch) pending.reject(error);
        return;
      }
      stored = new Map();
      for (const pending of batch) {
        const alone = await store([pending]).catch(
          (failure: unknown) => new Map([[pending, failure as Error]]),
        );
        stored.set(pending, alone.get(pending) as Job | Error);
      }
    }
    const accepted = batch.filter((pending) => !(stored.get(pending) instanceof Error));
    try {
      await withinRedisDeadline(
        enqueueTrainingBulk(
          deps.queue,
          accepted.map((pending) => pending.id),
        ),
        "the enqueue",
      );
    } catch (error) {
      // Redis went away between the PING and here. The jobs are stored as queued and the answers stand:
      // the periodic reconciler (reconcile.ts) enqueues every queued row the queue lacks within one
      // RECONCILE_INTERVAL_MS of Redis answering again.
      deps.log.error(
        { err: error, jobIds: accepted.map((pending) => pending.id) },
        "jobs stored but not enqueued; the reconciler enqueues them",
      );
    }
    for (const pending of batch) {
      const outcome = stored.get(pending) as Job | Error;
      if (outcome instanceof Error) pending.reject(outcome);
      else pending.resolve(outcome);
    }
  }

  /**
   * One transaction: the jobs, each with its first event (a job is never visible without its history)
   * and its idempotent answer, or the quota's 429 for a submission past its tenant's limit.
   */
  function store(batch: Pending[]): Promise<Map<Pending, Job | Error>> {
    const limit = deps.config.MAX_ACTIVE_JOBS_PER_TENANT;
    return deps.db.$transaction(async (tx) => {
      await lockActiveJobQuotas(
        tx,
        batch.map((pending) => pending.tenantId),
      );
      const stored = await storeQueuedJobs(
        tx,
        batch.map(({ id, tenantId, submittedBy, spec }) => ({
          id,
          tenantId,
          submittedBy,
          name: spec.name,
          spec: spec as unknown as Prisma.InputJsonValue,
          epochs: spec.fit.epochs,
        })),
        limit,
      );
      const outcomes = new Map<Pending, Job | Error>();
      for (const [i, pending] of batch.entries()) {
        const outcome = stored[i];
        if ("active" in outcome) {
          outcomes.set(pending, quotaExceeded(outcome.active, limit));
          continue;
        }
        const view = jobView(outcome.job, []);
        await pending.idempotency?.held.complete(tx, {
          requestHash: pending.idempotency.requestHash,
          statusCode: 201,
          response: view as unknown as Prisma.InputJsonValue,
        });
        outcomes.set(pending, view);
      }
      return outcomes;
    }, SUBMIT_TRANSACTION);
  }

  /** Stores and queues one job; resolves with the 201's body. */
  return function submit(submission: Submission): Promise<Job> {
    return new Promise<Job>((resolve, reject) => {
      waiting.push({ ...submission, id: randomUUID(), resolve, reject });
      // Requests parsed in the same turn of the event loop join this batch; later ones the next.
      if (!writing) {
        writing = true;
        setImmediate(() => void drain());
      }
    });
  };
}
