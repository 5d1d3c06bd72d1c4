import { type Job, type JobAttempt, type JobSummary, redactWebhookSecrets } from "@plateau/contract";
import type { JobAttempt as AttemptRow, Job as JobRow } from "@plateau/db";

/** A job row in its wire form (contract `JobSummary`). */
export function jobSummary(job: JobRow): JobSummary {
  return {
    id: job.id,
    name: job.name,
    status: job.status,
    stop_reason: job.stopReason,
    stop_details: (job.stopDetails as Record<string, unknown> | null) ?? null,
    epoch: job.epoch,
    epochs: job.epochs,
    learning_rate: job.learningRate,
    best:
      job.bestMonitor !== null && job.bestValue !== null && job.bestEpoch !== null
        ? { monitor: job.bestMonitor, value: job.bestValue, epoch: job.bestEpoch }
        : null,
    backend: job.backend,
    worker: job.worker,
    created_at: job.createdAt.toISOString(),
    started_at: job.startedAt?.toISOString() ?? null,
    finished_at: job.finishedAt?.toISOString() ?? null,
    error: job.error,
    submitted_by: job.submittedBy,
    cancelled_by: job.cancelledBy,
  };
}

/** A job with its effective spec; webhook secrets stay with the worker, never in an answer. */
export function jobView(job: JobRow, attempts: AttemptRow[]): Job {
  return {
    ...jobSummary(job),
    attempts: attempts.map(attemptView),
    spec: redactWebhookSecrets(job.spec as unknown as Job["spec"]),
  };
}

function attemptView(row: AttemptRow): JobAttempt {
  return {
    attempt: row.attempt,
    worker: row.worker,
    backend: row.backend,
    started_at: row.startedAt.toISOString(),
    ended_at: row.endedAt?.toISOString() ?? null,
    ending: row.ending as JobAttempt["ending"],
    detail: row.detail,
    resumed_from_epoch: row.resumedFromEpoch,
    resumed_from_batch: row.resumedFromBatch,
  };
}
