import type { CallbackEvent, CheckpointArtifact } from "@plateau/callbacks";
import type { Config } from "@plateau/config";
import type { DataSpec, EventDataByType, EventType, JobSpec } from "@plateau/contract";
import type { DataFiles } from "@plateau/training";
import type { Logs, StopReason } from "@plateau/training/run";
import type { io } from "@tensorflow/tfjs";

/**
 * The messages between a worker (the supervisor: queue lock, cancels, events, uploads) and the trainer
 * process that trains one job. Node's "advanced" IPC serialization carries typed arrays and ArrayBuffers
 * as they are, so weights cross without a text encoding.
 */

export interface StartMessage {
  kind: "start";
  job: { id: string; attempt: number; spec: JobSpec };
  /** The job's data, read by the supervisor (the trainer's only I/O is a Webhook callback's calls). */
  data: { spec: DataSpec; files: DataFiles };
  /** An encoded resume snapshot to continue from; null starts from scratch. */
  resume: Uint8Array | null;
  /** The worker's settings (the trainer reads none of its own but TFJS_BACKEND, at start-up). */
  config: Config;
}

/** The tfjs backend a trainer loaded, as `selectBackend` reports it. */
export interface BackendReport {
  backend: string;
  tried: string[];
  cpuFallbacks: string[];
}

export type ToTrainer =
  | StartMessage
  /** The user cancelled: stop at the next batch end (stop reason user_cancel). */
  | { kind: "cancel" }
  /** The worker is shutting down: stop at the next batch end and report `handed_back`. */
  | { kind: "hand_back" }
  /** The supervisor's buffers are full (Postgres or S3 away): wait at the next batch end until `go_on`. */
  | { kind: "pause" }
  | { kind: "go_on" }
  /** The answer to a request the trainer waits for (`id`); `error` when the supervisor could not do it. */
  | { kind: "reply"; id: number; error?: { message: string; user: boolean } };

export type TrainerOutcome = {
  /** Tensors the trainer holds once the job's are freed: constant from job to job unless one leaks. */
  tensors?: number;
  stopReason: StopReason | "handed_back";
  stopDetails?: Record<string, number | string>;
  lastEpoch: number | null;
  learningRate: number;
};

export type FromTrainer =
  | ({ kind: "ready" } & BackendReport)
  | {
      [K in EventType]: { kind: "event"; type: K; data: EventDataByType[K]; epoch?: number; batch?: number };
    }[EventType]
  /** A callback's decision, as `CallbackContext.onEvent` reports it. */
  | { kind: "decision"; event: CallbackEvent }
  /** Every job callback handled this epoch end; `logs` are the epoch's, with learning_rate; `samples` trained in `batches`. */
  | { kind: "epoch"; epoch: number; logs: Logs; samples: number; batches: number }
  /** A resume snapshot of the state before batch `batch` of epoch `epoch` (0: at the epoch's start). */
  | { kind: "snapshot"; epoch: number; batch: number; bytes: Uint8Array }
  | {
      kind: "save";
      id: number;
      artifact: CheckpointArtifact;
      artifacts: io.ModelArtifacts;
      topology?: string;
    }
  | { kind: "text"; id: number; filename: string; text: string; append: boolean }
  | { kind: "final_model"; id: number; artifacts: io.ModelArtifacts; trainingConfig: boolean }
  | { kind: "warn"; message: string }
  | { kind: "done"; outcome: TrainerOutcome }
  /** `user`: the job's own spec or data is at fault (fail once, with this message); else the service's. */
  | { kind: "failed"; message: string; user: boolean };
