import type { Job } from "@plateau/db";
import { JobStatus, StopReason } from "@plateau/spec";
import Type, { type Static } from "typebox";
import { Nullable, DateTime as Time, Uuid } from "./schemas";

const jobFields = {
  id: Uuid,
  name: Type.String(),
  status: JobStatus,
  stop_reason: Nullable(StopReason),
  stop_details: Nullable(
    Type.Object(
      {},
      { additionalProperties: true, description: "Where training stopped, e.g. the NaN batch." },
    ),
  ),
  epoch: Nullable(Type.Integer({ description: "The last epoch the worker reported." })),
  epochs: Type.Integer(),
  learning_rate: Nullable(Type.Number({ description: "The learning rate in effect at the last epoch." })),
  best: Nullable(
    Type.Object(
      { monitor: Type.String(), value: Type.Number(), epoch: Type.Integer() },
      { description: "The best checkpoint's monitored value, when the job has a ModelCheckpoint." },
    ),
  ),
  backend: Nullable(Type.String({ description: "tfjs backend the worker trains on." })),
  worker: Nullable(Type.String()),
  created_at: Time,
  started_at: Nullable(Time),
  finished_at: Nullable(Time),
  error: Nullable(Type.String({ description: "For a failed job: what went wrong and what to do." })),
};

/** A job in lists: everything but the spec, which may hold up to MAX_INLINE_BYTES of inline data. */
export const JobSummarySchema = Type.Object(jobFields);
export const JobSchema = Type.Object({
  ...jobFields,
  spec: Type.Object(
    {},
    {
      additionalProperties: true,
      description: "The effective spec the worker runs: defaults filled in, TerminateOnNaN added.",
    },
  ),
});

export function jobSummary(job: Job): Static<typeof JobSummarySchema> {
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
  };
}

export function jobView(job: Job): Static<typeof JobSchema> {
  return { ...jobSummary(job), spec: job.spec as Record<string, unknown> };
}
