import Type, { type Static } from "typebox";
import { CallbackSpecSchema } from "./callbacks";
import { FLOAT32_MAX } from "./compile";
import { FILE_FORMATS } from "./data";
import { JobStatus, Logs, StopReason } from "./events";
import type { JobSpec } from "./job-spec";
import { OPTIMIZER_NAMES } from "./keras-names";
import { DateTime, Nullable, Uuid } from "./problem";

/**
 * The HTTP API's request queries and response bodies. Times are ISO 8601 strings; epochs are 0-based, as
 * Keras passes them to callbacks. The API's routes use these schemas; the client's types are their Static.
 */

const strict = { additionalProperties: false } as const;

const jobFields = {
  id: Uuid,
  name: Type.String(),
  status: JobStatus,
  stop_reason: Nullable(StopReason),
  stop_details: Nullable(
    Type.Unsafe<Record<string, unknown>>(
      Type.Object(
        {},
        { additionalProperties: true, description: "Where training stopped, e.g. the NaN batch." },
      ),
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
  created_at: DateTime,
  started_at: Nullable(DateTime),
  finished_at: Nullable(DateTime),
  error: Nullable(Type.String({ description: "For a failed job: what went wrong and what to do." })),
  submitted_by: Nullable(Type.String({ format: "uuid", description: "The API key that submitted the job." })),
  cancelled_by: Nullable(
    Type.String({ format: "uuid", description: "The API key that asked to cancel the job, if one did." }),
  ),
};

/** A job in lists: everything but the spec, which may hold up to MAX_INLINE_BYTES of inline data. */
export const JobSummarySchema = Type.Object(jobFields);
export const ATTEMPT_ENDINGS = [
  "completed",
  "worker_lost",
  "shutdown",
  "trainer_crashed",
  "lock_lost",
  "error",
] as const;

export const JobAttemptSchema = Type.Object({
  attempt: Type.Integer({ minimum: 1 }),
  worker: Type.String(),
  backend: Type.String(),
  started_at: DateTime,
  ended_at: Nullable(DateTime),
  ending: Nullable(
    Type.Enum([...ATTEMPT_ENDINGS], {
      description:
        "completed: the job ended in this attempt (whatever its status); worker_lost: its worker died or stalled and another attempt took over; shutdown: its worker stopped and handed the job back; trainer_crashed: the training process died (OOM, native crash); lock_lost: its worker lost the queue's lock; error: the service failed during it. Null while it runs.",
    }),
  ),
  detail: Nullable(Type.String()),
  resumed_from_epoch: Nullable(
    Type.Integer({ description: "Epochs finished by the snapshot it resumed from; null: from scratch." }),
  ),
  resumed_from_batch: Nullable(
    Type.Integer({
      description:
        "Batches of that epoch the snapshot had trained (0: at the epoch's start); null: from scratch.",
    }),
  ),
});
export type JobAttempt = Static<typeof JobAttemptSchema>;

export const JobSchema = Type.Object({
  ...jobFields,
  attempts: Type.Array(JobAttemptSchema, { description: "Every run of the job by a worker, first first." }),
  spec: Type.Unsafe<JobSpec>(
    Type.Object(
      {},
      {
        additionalProperties: true,
        description: "The effective spec the worker runs: defaults filled in, TerminateOnNaN added.",
      },
    ),
  ),
});
export type JobSummary = Static<typeof JobSummarySchema>;
export type Job = Static<typeof JobSchema>;

export const ListJobsQuerySchema = Type.Object({
  status: Type.Optional(JobStatus),
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  cursor: Type.Optional(Type.String({ description: "next_cursor of the previous page, unchanged." })),
});
export type ListJobsQuery = Partial<Static<typeof ListJobsQuerySchema>>;

export const JobPageSchema = Type.Object({
  items: Type.Array(JobSummarySchema),
  next_cursor: Type.Union([Type.String(), Type.Null()], {
    description: "Pass as cursor for the next page; null on the last page.",
  }),
});
export type JobPage = Static<typeof JobPageSchema>;

export const SubmitJobQuerySchema = Type.Object({
  dry_run: Type.Boolean({
    default: false,
    description:
      "true: validate the spec exactly as a submission would and answer 200 with the effective spec; nothing is stored or queued.",
  }),
});
export type SubmitJobQuery = Partial<Static<typeof SubmitJobQuerySchema>>;

export const DryRunResultSchema = Type.Object({
  valid: Type.Literal(true),
  spec: Type.Unsafe<JobSpec>(
    Type.Object(
      {},
      { additionalProperties: true, description: "The effective spec the job would run with." },
    ),
  ),
});
export type DryRunResult = Static<typeof DryRunResultSchema>;

export const CancelResultSchema = Type.Object({ id: Type.String(), status: JobStatus });
export type CancelResult = Static<typeof CancelResultSchema>;

/** The largest event seq: job_events.seq is a Postgres integer (int4). */
export const MAX_SEQ = 2_147_483_647;

/** A position in a job's event stream to start after (0: from the beginning). */
export const SeqAfter = (description: string) =>
  Type.Integer({ minimum: 0, maximum: MAX_SEQ, default: 0, description });

/** The most points per series a downsampled metrics request may ask for. */
export const MAX_METRICS_POINTS = 10_000;

export const MetricsQuerySchema = Type.Object({
  after: SeqAfter("next_after of the previous call (a seq)."),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }),
  level: Type.Enum(["epoch", "batch"], {
    default: "epoch",
    description: "epoch: one row per epoch; batch: the sampled batch rows.",
  }),
  max_points: Type.Optional(
    Type.Integer({
      minimum: 2,
      maximum: MAX_METRICS_POINTS,
      description:
        "Downsample: every row after `after` (limit does not apply), at most this many points per series " +
        "(each key of the logs), keeping each bucket's minimum and maximum. A row then holds only the " +
        "series it is a point of. next_after is the last row covered, so polling on with after = " +
        "next_after reads only what came since.",
    }),
  ),
});
export type MetricsQuery = Partial<Static<typeof MetricsQuerySchema>>;

export const MetricsRowSchema = Type.Object({
  seq: Type.Integer({ description: "Position in the job's event stream." }),
  epoch: Type.Union([Type.Integer(), Type.Null()], { description: "0-based, as Keras passes it." }),
  batch: Type.Union([Type.Integer(), Type.Null()]),
  logs: Logs,
  time: Type.String({ format: "date-time" }),
});
export const MetricsPageSchema = Type.Object({
  items: Type.Array(MetricsRowSchema),
  next_after: Type.Integer(),
});
export type MetricsRow = Static<typeof MetricsRowSchema>;
export type MetricsPage = Static<typeof MetricsPageSchema>;

export const CheckpointSchema = Type.Object({
  id: Uuid,
  name: Type.String({ description: "The formatted ModelCheckpoint filepath." }),
  epoch: Type.Integer({ description: "0-based epoch the weights are from." }),
  batch: Nullable(Type.Integer()),
  monitor: Nullable(Type.String()),
  value: Nullable(Type.Number()),
  is_best: Type.Boolean(),
  weights_only: Type.Boolean(),
  size_bytes: Type.Integer(),
  created_at: DateTime,
});
/** Oldest first. */
export const CheckpointListSchema = Type.Object({ items: Type.Array(CheckpointSchema) });
export type Checkpoint = Static<typeof CheckpointSchema>;
export type CheckpointList = Static<typeof CheckpointListSchema>;

export const BestCheckpointSchema = Type.Object({
  id: Uuid,
  epoch: Type.Integer(),
  monitor: Nullable(Type.String()),
  value: Nullable(Type.Number()),
  model_url: Type.String({
    format: "uri",
    description: "Loadable as is with tf.loadLayersModel(model_url).",
  }),
  expires_at: DateTime,
});
export type BestCheckpoint = Static<typeof BestCheckpointSchema>;

export const FinalModelSchema = Type.Object({
  model_url: Type.String({
    format: "uri",
    description:
      "The model the job ended with (after EarlyStopping's restore_best_weights), with its training config when tfjs can carry it; loadable as is with tf.loadLayersModel(model_url).",
  }),
  expires_at: DateTime,
});
export type FinalModel = Static<typeof FinalModelSchema>;

export const JobFileSchema = Type.Object({
  name: Type.String({
    description: "The file's name, as the callback wrote it (e.g. CSVLogger's filename).",
  }),
  size_bytes: Type.Integer(),
  content_type: Type.String(),
  modified_at: DateTime,
});
export const JobFileListSchema = Type.Object({ items: Type.Array(JobFileSchema) });
export type JobFile = Static<typeof JobFileSchema>;
export type JobFileList = Static<typeof JobFileListSchema>;

export const DatasetSchema = Type.Object({
  id: Uuid,
  filename: Type.String(),
  format: Type.Enum([...FILE_FORMATS]),
  columns: Type.Array(Type.String(), { description: "CSV/JSONL columns; an .npz's array names." }),
  rows: Type.Integer({
    description: "Data rows (the CSV header not counted); an .npy/.npz's first array's samples.",
  }),
  arrays: Type.Optional(
    Type.Array(
      Type.Object({ name: Type.String(), dtype: Type.String(), shape: Type.Array(Type.Integer()) }),
      {
        description: ".npy/.npz: each array's NumPy dtype and shape (an .npy's one array is named 'array').",
      },
    ),
  ),
  size_bytes: Type.Integer(),
  uri: Type.String({ description: "s3://bucket/key of the stored file." }),
  created_at: DateTime,
});
export type Dataset = Static<typeof DatasetSchema>;

const Metrics = Type.Record(Type.String(), Type.Number());

export const SimulationInputSchema = Type.Object(
  {
    callbacks: Type.Array(CallbackSpecSchema, { maxItems: 32, description: "Callback specs, as in a job." }),
    optimizer: Type.Optional(
      Type.Object(
        {
          name: Type.Enum(OPTIMIZER_NAMES),
          learning_rate: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: FLOAT32_MAX })),
        },
        { ...strict, description: "Defaults to Keras's compile default, rmsprop at 0.001." },
      ),
    ),
    epochs: Type.Array(
      Type.Object(
        {
          logs: Metrics,
          batches: Type.Optional(
            Type.Array(Metrics, {
              maxItems: 1000,
              description: "Batch logs; default one batch with the epoch's training logs.",
            }),
          ),
        },
        strict,
      ),
      {
        minItems: 1,
        maxItems: 10_000,
        description:
          "The recorded epoch logs, e.g. {loss, val_loss}, in order. A simulation replays at most 10,000 batches and reports at most 10,000 events.",
      },
    ),
  },
  strict,
);
export type SimulationInput = Static<typeof SimulationInputSchema>;

/** A callback's decision, as events report it. */
export const CallbackEventSchema = Type.Object({
  callback: Type.String({ description: 'Keras class name of the callback, e.g. "ReduceLROnPlateau".' }),
  epoch: Type.Integer({ description: "0-based epoch index, as tfjs and Keras pass it to callbacks." }),
  batch: Type.Optional(Type.Integer()),
  action: Type.String(),
  details: Type.Record(Type.String(), Type.Unknown()),
});
export type CallbackEvent = Static<typeof CallbackEventSchema>;

export const SimulationResultSchema = Type.Object({
  epochs: Type.Array(
    Type.Object({ epoch: Type.Integer(), learning_rate: Type.Number(), stop_training: Type.Boolean() }),
  ),
  stopped_epoch: Nullable(Type.Integer({ description: "The epoch during which training was stopped." })),
  checkpoints: Type.Array(
    Type.Object({ epoch: Type.Integer(), batch: Nullable(Type.Integer()), filepath: Type.String() }),
  ),
  restored_weights_from_epoch: Nullable(
    Type.Integer({ description: "Which epoch's weights the model holds at the end." }),
  ),
  final_learning_rate: Type.Number(),
  events: Type.Array(CallbackEventSchema),
  warnings: Type.Array(Type.String()),
});
export type SimulationResult = Static<typeof SimulationResultSchema>;
