import type { CallbackSpec, SimulationInput, SimulationResult } from "@plateau/callbacks";
import type { EventDataByType, JobEvent, JobSpec, JobStatus, StopReason } from "@plateau/spec";

/**
 * Response bodies of the HTTP API (issue 4), as the API serializes them. Times are ISO 8601 strings;
 * epochs are 0-based, as Keras passes them to callbacks.
 */

export type { JobSpec, JobStatus, SimulationInput, SimulationResult, StopReason };

/**
 * A job spec as written (POST /v1/jobs body). JobSpec, the schema's static type, reads the optimizer
 * as a bare name and the callbacks as `{type}` only (the schemas are unions built from arrays and open
 * objects), so the optimizer object and the callback options are typed here.
 */
export type JobSpecInput = Omit<JobSpec, "compile" | "callbacks"> & {
  compile: Omit<JobSpec["compile"], "optimizer"> & {
    optimizer: string | ({ name: string } & Record<string, unknown>);
  };
  callbacks?: CallbackSpec[];
};

export interface ErrorDetail {
  /** JSON pointer into the request body, or `/querystring/…` for query parameters. */
  path: string;
  message: string;
}

export interface ErrorBody {
  error: string;
  message: string;
  details: ErrorDetail[];
}

export interface BestSoFar {
  monitor: string;
  value: number;
  epoch: number;
}

/** A job as lists show it: everything but the spec. */
export interface JobSummary {
  id: string;
  name: string;
  status: JobStatus;
  stop_reason: StopReason | null;
  /** Where training stopped early, e.g. `{epoch, batch, value}` for a NaN loss. */
  stop_details: Record<string, unknown> | null;
  /** The last epoch the worker reported. */
  epoch: number | null;
  epochs: number;
  learning_rate: number | null;
  best: BestSoFar | null;
  backend: string | null;
  worker: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
}

export interface Job extends JobSummary {
  /** The effective spec: defaults filled in, TerminateOnNaN added. */
  spec: JobSpec;
}

export interface JobPage {
  items: JobSummary[];
  /** Pass as `cursor` for the next page; null on the last page. */
  next_cursor: string | null;
}

export interface ListJobsQuery {
  status?: JobStatus;
  limit?: number;
  cursor?: string;
}

export interface MetricsQuery {
  /** `next_after` of the previous page (a seq). */
  after?: number;
  limit?: number;
  level?: "epoch" | "batch";
}

export interface MetricsRow {
  seq: number;
  epoch: number | null;
  batch: number | null;
  /** loss, val_loss, acc, …, learning_rate; a non-finite value is null. */
  logs: Record<string, number | null>;
  time: string;
}

export interface MetricsPage {
  items: MetricsRow[];
  next_after: number;
}

export interface CancelResult {
  id: string;
  status: JobStatus;
}

export interface Checkpoint {
  id: string;
  /** The formatted ModelCheckpoint filepath. */
  name: string;
  epoch: number;
  batch: number | null;
  monitor: string | null;
  value: number | null;
  is_best: boolean;
  weights_only: boolean;
  size_bytes: number;
  created_at: string;
}

/** Oldest first. */
export interface CheckpointList {
  items: Checkpoint[];
}

export interface BestCheckpoint {
  /** The checkpoint's id (as in the checkpoint list). */
  id: string;
  epoch: number;
  monitor: string | null;
  value: number | null;
  /** Loadable as is with `tf.loadLayersModel(model_url)`. */
  model_url: string;
  /** When the presigned weight URLs in the served model.json stop working. */
  expires_at: string;
}

export interface Dataset {
  id: string;
  filename: string;
  format: "csv" | "jsonl";
  size_bytes: number;
  columns: string[];
  rows: number;
  /** s3://bucket/key of the stored file. */
  uri: string;
  created_at: string;
}

/** A stored event with its payload typed by its `type`. */
export type StoredEvent = {
  [K in keyof EventDataByType]: Omit<JobEvent, "type" | "data"> & { type: K; data: EventDataByType[K] };
}[keyof EventDataByType];

export interface DoneData {
  status: JobStatus;
  stop_reason: StopReason | null;
}

/** The API's last message on a job's stream, after the terminal status; it has no seq. */
export interface DoneEvent {
  seq: null;
  type: "done";
  data: DoneData;
}

export type StreamEvent = StoredEvent | DoneEvent;
