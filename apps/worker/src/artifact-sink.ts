import type { CheckpointArtifact } from "@plateau/callbacks";
import { CHECKPOINT_NAME_MAX_LENGTH } from "@plateau/contract";
import { type Db, recordCheckpoint } from "@plateau/db";
import {
  checkpointPrefix,
  fileKey,
  filesPrefix,
  finalModelPrefix,
  isValidName,
  putObject,
  type S3SaveResult,
  type Storage,
  s3SaveHandler,
  topologyKey,
} from "@plateau/storage";
import { SpecError } from "@plateau/training";
import type { io } from "@tensorflow/tfjs";
import type { EventLog } from "./event-log";
import { retryS3 } from "./s3-retry";
import type { WorkerTelemetry } from "./telemetry";

/** Saves not yet uploaded before training waits for them; each holds a copy of the weights. */
const MAX_PENDING_SAVES = 2;

export interface BestCheckpoint {
  monitor: string;
  value: number;
  epoch: number;
}

/** ModelCheckpoint's rendered filepath as the checkpoint's folder name: `/` and other unsafe characters → `_`. */
function checkpointName(filepath: string): string {
  const name = filepath.replace(/[^A-Za-z0-9._=+-]/g, "_");
  if (!isValidName(name)) {
    // Validation bounds a template's longest rendering, counting fixed-point values ({val_loss:.2f}) up to
    // 16 integer digits; only a larger value gets here with a name that long.
    const long = filepath.length > CHECKPOINT_NAME_MAX_LENGTH;
    const shown = long ? `${filepath.slice(0, 60)}…" (${filepath.length} characters)` : `${filepath}"`;
    throw new SpecError([
      {
        path: "/callbacks",
        message: `ModelCheckpoint filepath rendered to "${shown}, which cannot name a checkpoint: use 1-${CHECKPOINT_NAME_MAX_LENGTH} letters, digits, '.', '_', '-', '=' or '+', starting with a letter or digit${long ? "; for values this large use an exponent format, e.g. {val_loss:.2e}" : ""}`,
      },
    ]);
  }
  return name;
}

/**
 * Where a job's callbacks write, on the worker's side: checkpoints as tfjs artifacts under
 * `jobs/<id>/checkpoints/<name>/` (recorded in Postgres and announced as `checkpoint` events), CSVLogger
 * files under `jobs/<id>/files/`, the final model under `jobs/<id>/model/`.
 *
 * Training does not wait for S3: the trainer captured the model's artifacts at once (what the callback
 * decided to save) and they are uploaded in the background, in order, each retried through an outage
 * (`retryS3`); `drain()` waits for all of it before the job ends. A write still waiting when a newer one
 * to the same place arrives is dropped, as Keras overwrites a fixed filepath; the trainer waits (its
 * request is answered later) only when more than MAX_PENDING_SAVES writes pile up.
 */
export class S3ArtifactSink {
  /** The best checkpoint stored so far (as Keras's save_best_only tracks it), for the job row. */
  best: BestCheckpoint | null = null;
  private readonly files = new Map<string, string>();
  /** The newest write waiting for each key or prefix. */
  private readonly waiting = new Map<string, () => Promise<void>>();
  private queue: Promise<void> = Promise.resolve();
  private pending = 0;
  private failure: unknown = null;
  /** Why saves stopped, once the weights can no longer be worth keeping. */
  private haltedBy: "nan_loss" | null = null;

  constructor(
    private readonly deps: {
      storage: Storage;
      db: Db;
      jobId: string;
      events: EventLog;
      /** How long one write may keep failing before the job fails (S3_RETRY_DEADLINE_MS). */
      retryDeadlineMs: number;
      onRetry?: (error: unknown, attempt: number) => void;
      /** Receives each model upload's size and time (the worker's Prometheus metrics). */
      telemetry?: Pick<WorkerTelemetry, "checkpointUploaded">;
    },
  ) {}

  /**
   * TerminateOnNaN fired: the batch that produced the non-finite loss has already updated the weights.
   * tfjs skips that epoch's validation, so a save_best_only ModelCheckpoint finds no monitor value at the
   * epoch end and, as Keras does then, saves anyway; from here on such saves are recorded as skipped.
   */
  haltSaves(reason: "nan_loss"): void {
    this.haltedBy = reason;
  }

  get halted(): boolean {
    return this.haltedBy !== null;
  }

  /** A checkpoint the trainer captured; `topology` comes with the job's first weights-only one. */
  async save(artifact: CheckpointArtifact, captured: io.ModelArtifacts, topology?: string): Promise<void> {
    if (this.failure !== null) throw this.failure;
    if (this.haltedBy !== null) {
      this.deps.events.append(
        "callback",
        {
          callback: "ModelCheckpoint",
          action: "checkpoint_skipped",
          details: { reason: this.haltedBy, filepath: artifact.filepath },
        },
        { epoch: artifact.epoch, batch: artifact.batch },
      );
      return;
    }
    const { storage, jobId } = this.deps;
    const name = checkpointName(artifact.filepath);
    if (topology !== undefined) {
      // A weights-only checkpoint is served with the job's topology, stored once.
      const key = topologyKey(jobId);
      this.schedule(key, () => putObject(storage, key, topology, { contentType: "application/json" }));
    }
    this.schedule(checkpointPrefix(jobId, name), () => this.upload(name, artifact, captured));
    if (this.pending > MAX_PENDING_SAVES) await this.queue;
  }

  private async upload(
    name: string,
    artifact: CheckpointArtifact,
    artifacts: io.ModelArtifacts,
  ): Promise<void> {
    const { db, jobId, events } = this.deps;
    const saved = await this.saveModelFiles(checkpointPrefix(jobId, name), artifacts, {
      weightsOnly: artifact.weights_only,
    });
    const value = artifact.monitor_value;
    const row = await recordCheckpoint(db, {
      jobId,
      name,
      epoch: artifact.epoch,
      batch: artifact.batch,
      monitor: artifact.monitor,
      value,
      isBest: artifact.is_best,
      weightsOnly: artifact.weights_only,
      sizeBytes: saved.sizeBytes,
    });
    if (artifact.is_best && value !== null)
      this.best = { monitor: artifact.monitor, value, epoch: artifact.epoch };
    events.append(
      "checkpoint",
      {
        id: row.id,
        name,
        monitor: artifact.monitor,
        value: value !== null && Number.isFinite(value) ? value : null,
        is_best: artifact.is_best,
        weights_only: artifact.weights_only,
        size_bytes: saved.sizeBytes,
      },
      { epoch: artifact.epoch, batch: artifact.batch },
    );
  }

  /** Stores the model the job ended with under `jobs/<id>/model/`, after every checkpoint and file write. */
  async saveFinalModel(artifacts: io.ModelArtifacts): Promise<{ sizeBytes: number }> {
    await this.drain();
    const saved = await this.saveModelFiles(finalModelPrefix(this.deps.jobId), artifacts);
    return { sizeBytes: saved.sizeBytes };
  }

  /** Uploads a model's files under `prefix` (retried), reporting its size and upload time. */
  private async saveModelFiles(
    prefix: string,
    artifacts: io.ModelArtifacts,
    options?: { weightsOnly?: boolean },
  ): Promise<S3SaveResult> {
    const started = performance.now();
    const handler = s3SaveHandler(this.deps.storage, prefix, options);
    const saved = (await this.retry(() => handler.save!(artifacts))) as S3SaveResult;
    this.deps.telemetry?.checkpointUploaded({
      bytes: saved.sizeBytes,
      seconds: (performance.now() - started) / 1000,
    });
    return saved;
  }

  /** One S3 write, retried with backoff through an outage of up to the deadline. */
  retry<T>(write: () => Promise<T>): Promise<T> {
    return retryS3(write, { deadlineMs: this.deps.retryDeadlineMs, onRetry: this.deps.onRetry });
  }

  /** S3 has no append: the file is kept here and written whole. */
  async appendText(filename: string, text: string, options: { append: boolean }): Promise<void> {
    const key = fileKey(filesPrefix(this.deps.jobId), filename);
    this.files.set(key, (options.append ? (this.files.get(key) ?? "") : "") + text);
    this.schedule(key, () =>
      putObject(this.deps.storage, key, this.files.get(key)!, { contentType: "text/csv" }),
    );
  }

  /** Queues a write to `key`, replacing one to the same key that has not started yet. */
  private schedule(key: string, write: () => Promise<void>): void {
    const queued = this.waiting.has(key);
    this.waiting.set(key, write);
    if (queued) return;
    this.pending += 1;
    this.queue = this.queue.then(async () => {
      const next = this.waiting.get(key)!;
      this.waiting.delete(key);
      try {
        if (this.failure === null) await this.retry(next);
      } catch (error) {
        this.failure ??= error;
      } finally {
        this.pending -= 1;
      }
    });
  }

  /** Waits for every save and file write; throws the first that failed. */
  async drain(): Promise<void> {
    await this.queue;
    if (this.failure !== null) throw this.failure;
  }
}
