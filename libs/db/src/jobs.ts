import { randomUUID } from "node:crypto";
import { boundMessage, isUuid, statusFor } from "@plateau/contract";
import type { Db, DbClient } from "./client";
import { type Job, type JobStatus, Prisma, type StopReason } from "./generated/prisma/client";

export interface NewJob {
  /** Defaults to a random UUID; the API may choose it first so the queue entry can carry it. */
  id?: string;
  tenantId: string;
  /** The API key that submitted it. */
  submittedBy?: string;
  name: string;
  /** The effective spec, as the worker will run it. */
  spec: Prisma.InputJsonValue;
  epochs: number;
}

export function createJob(db: DbClient, job: NewJob): Promise<Job> {
  return db.job.create({ data: { ...job, id: job.id ?? randomUUID() } });
}

/** A job submitted for a tenant by one of its keys. */
export interface SubmittedJob {
  id: string;
  tenantId: string;
  submittedBy: string;
  name: string;
  spec: Prisma.InputJsonValue;
  epochs: number;
}

/** A submitted job stored as queued, or refused because its tenant already had `active` jobs. */
export type QueuedOutcome = { job: Job } | { active: number };

/**
 * Stores submitted jobs as queued, each with its first event (status queued), in one statement — one
 * parse and one round trip for a batch of any size — except a job whose tenant already has `limit`
 * queued or running jobs, counting the ones stored before it in the list. Run it in a transaction
 * holding the tenants' quota locks, after them: its snapshot then sees every job committed before.
 * Outcomes come in the order of `jobs`. A job is created when this statement starts, once any wait for
 * the locks is over (not when the transaction began).
 */
export async function storeQueuedJobs(
  db: DbClient,
  jobs: SubmittedJob[],
  limit: number,
): Promise<QueuedOutcome[]> {
  const rows = await db.$queryRaw<{ id: string; active: number; created_at: Date | null }[]>`
    WITH input AS (
      SELECT * FROM unnest(
        ${jobs.map((job) => job.id)}::uuid[], ${jobs.map((job) => job.tenantId)}::uuid[],
        ${jobs.map((job) => job.submittedBy)}::uuid[], ${jobs.map((job) => job.name)}::text[],
        ${jobs.map((job) => JSON.stringify(job.spec))}::jsonb[], ${jobs.map((job) => job.epochs)}::int[]
      ) WITH ORDINALITY AS t(id, tenant_id, submitted_by, name, spec, epochs, n)
    ), active AS (
      SELECT tenant_id, count(*)::int AS active FROM jobs
      WHERE tenant_id IN (SELECT tenant_id FROM input) AND status IN ('queued', 'running')
      GROUP BY tenant_id
    ), ranked AS (
      SELECT input.*, coalesce(active.active, 0) AS active,
        row_number() OVER (PARTITION BY input.tenant_id ORDER BY input.n) AS place
      FROM input LEFT JOIN active USING (tenant_id)
    ), stored AS (
      INSERT INTO jobs (id, tenant_id, submitted_by, name, spec, epochs, created_at)
      SELECT id, tenant_id, submitted_by, name, spec, epochs, statement_timestamp()
      FROM ranked WHERE active + place <= ${limit}
      RETURNING id, created_at
    ), events AS (
      INSERT INTO job_events (job_id, seq, type, data, created_at)
      SELECT id, 1, 'status', '{"status": "queued"}', created_at FROM stored
    )
    SELECT ranked.id::text AS id, ranked.active, stored.created_at
    FROM ranked LEFT JOIN stored USING (id) ORDER BY ranked.n`;
  return rows.map((row, i) =>
    row.created_at === null
      ? { active: Math.max(row.active, limit) }
      : { job: queuedJob(jobs[i], row.created_at) },
  );
}

/** The row a submitted job becomes: every column at its default. */
function queuedJob(job: SubmittedJob, createdAt: Date): Job {
  return {
    ...job,
    spec: job.spec as Prisma.JsonValue,
    status: "queued",
    stopReason: null,
    epoch: null,
    learningRate: null,
    bestMonitor: null,
    bestValue: null,
    bestEpoch: null,
    backend: null,
    worker: null,
    error: null,
    stopDetails: null,
    cancelRequestedAt: null,
    createdAt,
    startedAt: null,
    finishedAt: null,
    cancelledBy: null,
    attempt: 0,
    resumePoint: null,
  };
}

/**
 * The job, when it exists and (with `tenantId`) belongs to that tenant: another tenant's job is exactly
 * as absent as one that never existed. Service code (the worker, the reconciler) reads any job.
 */
export function getJob(db: DbClient, id: string, tenantId?: string): Promise<Job | null> {
  return db.job.findFirst({ where: { id, tenantId } });
}

export class InvalidCursorError extends Error {
  constructor(cursor: string) {
    super(`Invalid cursor "${cursor}": pass the next_cursor of a previous page unchanged.`);
    this.name = "InvalidCursorError";
  }
}

export interface JobPage {
  items: Job[];
  /** Pass to the next call for the following page; null on the last page. */
  nextCursor: string | null;
}

/**
 * Jobs newest first, paged by keyset on (created_at, id): a page never repeats or skips a job,
 * whatever is inserted meanwhile. The cursor is opaque to clients (base64url of the last row's key).
 */
export async function listJobs(
  db: DbClient,
  options: { tenantId: string; status?: JobStatus; limit: number; cursor?: string },
): Promise<JobPage> {
  const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor);
  const rows = await db.job.findMany({
    where: {
      tenantId: options.tenantId,
      status: options.status,
      ...(after && {
        OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }],
      }),
    },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: options.limit + 1,
  });
  const items = rows.slice(0, options.limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > options.limit && last ? encodeCursor(last) : null };
}

function encodeCursor(job: Job): string {
  return Buffer.from(`${job.createdAt.toISOString()}|${job.id}`).toString("base64url");
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [time, id, ...rest] = Buffer.from(cursor, "base64url").toString().split("|");
  const createdAt = new Date(time);
  // Cursors this API writes hold real job times; a crafted year before 1 AD, which JavaScript accepts,
  // would fail the query in Postgres.
  if (
    rest.length > 0 ||
    !id ||
    !isUuid(id) ||
    Number.isNaN(createdAt.getTime()) ||
    createdAt.getUTCFullYear() < 1
  ) {
    throw new InvalidCursorError(cursor);
  }
  return { createdAt, id };
}

/**
 * Runs `update` and turns "no row matched the guard" (Prisma's P2025) into null, so a state
 * transition and its precondition are one statement and two racing callers cannot both win.
 */
async function guarded(update: Promise<Job>): Promise<Job | null> {
  try {
    return await update;
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2025") return null;
    throw error;
  }
}

/**
 * queued → running as a new attempt: the job row's `attempt` goes up by one (the fencing token every later
 * write of this attempt is checked against), the attempt is recorded with who runs it, and an earlier
 * attempt that never ended is closed as `worker_lost` (its worker died or stalled and the queue handed the
 * job on). `started_at` stays the first start. Null when the job has ended: most often it was cancelled
 * between dequeue and start (requestCancel ends a queued job at once), so the worker must skip it.
 */
export function markRunning(
  db: Db,
  id: string,
  by: { backend: string; worker: string },
): Promise<Job | null> {
  return db.$transaction(async (tx) => {
    const job = await guarded(
      tx.job.update({
        where: { id, status: { in: ["queued", "running"] } },
        data: { status: "running", attempt: { increment: 1 }, backend: by.backend, worker: by.worker },
      }),
    );
    if (!job) return null;
    const now = new Date();
    await tx.jobAttempt.updateMany({
      where: { jobId: id, endedAt: null },
      data: { endedAt: now, ending: "worker_lost" },
    });
    await tx.jobAttempt.create({ data: { jobId: id, attempt: job.attempt, ...by, startedAt: now } });
    if (job.startedAt) return job;
    return tx.job.update({ where: { id }, data: { startedAt: now } });
  });
}

export interface JobOutcome {
  stopReason: StopReason;
  /** A message the user can act on, for stopReason "error". */
  error?: string;
  /** Where and why training stopped, e.g. the epoch and batch of a NaN loss. */
  stopDetails?: Prisma.InputJsonValue;
  epoch?: number;
  learningRate?: number;
}

/**
 * Ends a job that has not ended yet; null when it already had (the first outcome stands) or, with
 * `attempt`, when a newer attempt has taken the job over (a worker that lost its lock must not end it).
 */
export function finishJob(
  db: DbClient,
  id: string,
  outcome: JobOutcome,
  attempt?: number,
): Promise<Job | null> {
  return guarded(
    db.job.update({
      where: { id, status: { in: ["queued", "running"] }, attempt },
      data: {
        status: statusFor(outcome.stopReason),
        stopReason: outcome.stopReason,
        // Cut to MAX_STORED_MESSAGE_LENGTH: a message may quote user data of any size.
        error: outcome.error === undefined ? undefined : boundMessage(outcome.error),
        stopDetails: outcome.stopDetails,
        epoch: outcome.epoch,
        learningRate: outcome.learningRate,
        finishedAt: new Date(),
      },
    }),
  );
}

export type CancelOutcome =
  /** It was queued: it is now cancelled/user_cancel and must be removed from the queue. */
  | { outcome: "cancelled"; job: Job }
  /** It is running: the worker must be told to stop; it records the outcome itself. */
  | { outcome: "cancel_requested"; job: Job }
  /** It had already ended: nothing to cancel (409). */
  | { outcome: "already_finished"; job: Job }
  | { outcome: "not_found" };

/**
 * Records a user's cancel of one of `by.tenantId`'s jobs, and which key asked. Each step is a guarded
 * update, so a job that starts or ends while this runs still lands in exactly one of the outcomes.
 * Asking twice for a running job keeps the first request's time and key.
 */
export async function requestCancel(
  db: DbClient,
  id: string,
  by: { tenantId: string; keyId?: string },
): Promise<CancelOutcome> {
  const now = new Date();
  const { tenantId, keyId: cancelledBy } = by;
  const cancelled = await guarded(
    db.job.update({
      where: { id, tenantId, status: "queued" },
      data: {
        status: "cancelled",
        stopReason: "user_cancel",
        cancelRequestedAt: now,
        cancelledBy,
        finishedAt: now,
      },
    }),
  );
  if (cancelled) return { outcome: "cancelled", job: cancelled };
  await db.job.updateMany({
    where: { id, tenantId, status: "running", cancelRequestedAt: null },
    data: { cancelRequestedAt: now, cancelledBy },
  });
  const job = await getJob(db, id, tenantId);
  if (!job) return { outcome: "not_found" };
  return { outcome: job.status === "running" ? "cancel_requested" : "already_finished", job };
}

export interface Progress {
  epoch: number;
  learningRate?: number;
  best?: { monitor: string; value: number; epoch: number };
}

/** The running job's latest epoch, learning rate and best monitored value; false if it is not running. */
export async function updateProgress(
  db: DbClient,
  id: string,
  progress: Progress,
  attempt?: number,
): Promise<boolean> {
  const { count } = await db.job.updateMany({
    where: { id, status: "running", attempt },
    data: {
      epoch: progress.epoch,
      learningRate: progress.learningRate,
      ...(progress.best && {
        bestMonitor: progress.best.monitor,
        bestValue: progress.best.value,
        bestEpoch: progress.best.epoch,
      }),
    },
  });
  return count === 1;
}

/**
 * Jobs Postgres says are waiting for or held by a worker, oldest first, `limit` at a time after `afterId`
 * in that order (for the reconciler, which compares each with the queue).
 */
export function unfinishedJobs(
  db: DbClient,
  page: { limit: number; after?: { createdAt: Date; id: string } },
): Promise<{ id: string; status: JobStatus; createdAt: Date }[]> {
  const { after } = page;
  return db.job.findMany({
    where: {
      status: { in: ["queued", "running"] },
      ...(after && {
        OR: [{ createdAt: { gt: after.createdAt } }, { createdAt: after.createdAt, id: { gt: after.id } }],
      }),
    },
    orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    select: { id: true, status: true, createdAt: true },
    take: page.limit,
  });
}
