import Type, { type Static } from "typebox";
import { Nullable } from "./problem";

/**
 * A job's history is one ordered stream of events with a per-job `seq` (docs/architecture.md). These are the
 * types and payloads, shared by the worker that writes them, the API that serves them (metrics, SSE)
 * and the Redis messages that carry them live.
 */
export const EVENT_TYPES = ["status", "epoch_end", "batch_end", "callback", "checkpoint", "resumed"] as const;
export const EventType = Type.Enum([...EVENT_TYPES], {
  description:
    "status: lifecycle change; epoch_end / batch_end: metrics (batch_end is sampled); callback: a callback's decision; checkpoint: an artifact saved to S3; resumed: a new attempt continues from a snapshot, and events of earlier attempts from `from_epoch` on are no longer part of the history.",
});
export type EventType = Static<typeof EventType>;

export const JOB_STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
export const JobStatus = Type.Enum([...JOB_STATUSES]);
export type JobStatus = Static<typeof JobStatus>;
/** A job in one of these will never change again: its stream has ended. */
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set<JobStatus>([
  "succeeded",
  "failed",
  "cancelled",
]);
export const STOP_REASONS = ["completed", "early_stopping", "nan_loss", "user_cancel", "error"] as const;
export const StopReason = Type.Enum([...STOP_REASONS]);
export type StopReason = Static<typeof StopReason>;

const STATUS_FOR: Record<StopReason, JobStatus> = {
  completed: "succeeded",
  early_stopping: "succeeded",
  nan_loss: "cancelled",
  user_cancel: "cancelled",
  error: "failed",
};

/** The terminal status a stop reason leads to: one rule, so status and stop_reason never disagree. */
export function statusFor(stopReason: StopReason): JobStatus {
  return STATUS_FOR[stopReason];
}

/**
 * The longest message Plateau stores: a job's `error` and every string in an event are cut to this many
 * characters before they reach Postgres, so a message quoting user data (a spec, a rendered template, a
 * file's cell) stays small for every reader of the job.
 */
export const MAX_STORED_MESSAGE_LENGTH = 2000;

/** `message` if short enough, else its start and "… (<total> characters)", at most `max` characters. */
export function boundMessage(message: string, max = MAX_STORED_MESSAGE_LENGTH): string {
  if (message.length <= max) return message;
  const suffix = `… (${message.length} characters)`;
  let end = Math.max(0, max - suffix.length);
  // Never split a surrogate pair.
  const code = message.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return message.slice(0, end) + suffix;
}

export const Logs = Type.Record(Type.String(), Type.Union([Type.Number(), Type.Null()]), {
  description: "Keras logs as tfjs reports them (loss, acc, val_loss, val_acc, …) plus learning_rate.",
});

export const StatusData = Type.Object({
  status: JobStatus,
  stop_reason: Type.Optional(StopReason),
  error: Type.Optional(Type.String()),
  backend: Type.Optional(Type.String()),
  worker: Type.Optional(Type.String()),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export const MetricsData = Type.Object({ logs: Logs });
export const CallbackData = Type.Object({
  callback: Type.String({ description: "Keras class name of the callback that decided." }),
  action: Type.String({
    description: "reduce_lr, early_stop, restore_best_weights, nan, checkpoint, set_lr, …",
  }),
  details: Type.Record(Type.String(), Type.Unknown()),
});
export const CheckpointData = Type.Object({
  id: Type.String(),
  name: Type.String({ description: "The formatted ModelCheckpoint filepath." }),
  monitor: Type.Union([Type.String(), Type.Null()]),
  value: Type.Union([Type.Number(), Type.Null()]),
  is_best: Type.Boolean(),
  weights_only: Type.Boolean(),
  size_bytes: Type.Integer(),
});

export const ResumedData = Type.Object({
  attempt: Type.Integer({ minimum: 1, description: "The attempt that continues the job." }),
  from_epoch: Type.Integer({
    minimum: 0,
    description:
      "Epochs the snapshot had finished: training continues at this epoch; a reader drops what it holds from this epoch on.",
  }),
  from_batch: Type.Optional(
    Type.Integer({
      minimum: 0,
      description: "Batches of from_epoch the snapshot had trained: training continues at this batch.",
    }),
  ),
  after_seq: Type.Optional(
    Type.Integer({
      minimum: 0,
      description:
        "Events of earlier attempts at from_epoch with a seq above this, and all at later epochs, are rolled back; those of from_epoch up to it (e.g. its epoch-begin decisions) stay.",
    }),
  ),
  previous: Type.Object({
    attempt: Type.Integer(),
    ending: Nullable(Type.String({ description: "How it ended: worker_lost, shutdown, trainer_crashed, …" })),
  }),
  rolled_back: Type.Integer({ description: "Events of earlier attempts no longer shown." }),
});

export type StatusData = Static<typeof StatusData>;
export type ResumedData = Static<typeof ResumedData>;
export type MetricsData = Static<typeof MetricsData>;
export type CallbackData = Static<typeof CallbackData>;
export type CheckpointData = Static<typeof CheckpointData>;

export interface EventDataByType {
  status: StatusData;
  epoch_end: MetricsData;
  batch_end: MetricsData;
  callback: CallbackData;
  checkpoint: CheckpointData;
  resumed: ResumedData;
}

/** The API's last message on a job's stream, after the terminal status; it has no seq. */
export const DoneData = Type.Object({
  status: JobStatus,
  stop_reason: Type.Union([StopReason, Type.Null()]),
});
export type DoneData = Static<typeof DoneData>;

/** One event as stored (job_events row), published on Redis and sent over SSE. */
export const JobEvent = Type.Object({
  seq: Type.Integer({ minimum: 1 }),
  type: EventType,
  epoch: Type.Union([Type.Integer(), Type.Null()], { description: "0-based epoch, as Keras passes it." }),
  batch: Type.Union([Type.Integer(), Type.Null()]),
  data: Type.Record(Type.String(), Type.Unknown()),
  time: Type.String({ format: "date-time" }),
  attempt: Nullable(Type.Integer({ description: "The attempt that wrote it; null for the API's own." })),
});
export type JobEvent = Static<typeof JobEvent>;

/** An event as stored (a job_events row, or one about to be written), in its wire form. */
export interface StoredEvent {
  seq: number;
  type: string;
  epoch?: number | null;
  batch?: number | null;
  data: unknown;
  createdAt?: Date;
  attempt?: number | null;
}

/** The one wire form of an event: API responses, SSE data and Redis messages. */
export function wireEvent(event: StoredEvent): JobEvent {
  return {
    seq: event.seq,
    type: event.type as EventType,
    epoch: event.epoch ?? null,
    batch: event.batch ?? null,
    data: event.data as JobEvent["data"],
    time: (event.createdAt ?? new Date()).toISOString(),
    attempt: event.attempt ?? null,
  };
}

/** A wire event with its payload typed by its `type`. */
export type TypedJobEvent = {
  [K in keyof EventDataByType]: Omit<JobEvent, "type" | "data"> & { type: K; data: EventDataByType[K] };
}[keyof EventDataByType];

export interface DoneEvent {
  seq: null;
  type: "done";
  data: DoneData;
}

/** What a job's event stream yields: its events, then `done`. */
export type StreamEvent = TypedJobEvent | DoneEvent;
