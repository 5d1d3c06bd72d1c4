import { CallbackSpecError, callbacksFromSpecs } from "@plateau/callbacks";
import type { Config } from "@plateau/config";
import {
  boundMessage,
  type CallbackSpec,
  type CompileSpec,
  type JobSpec,
  TERMINAL_STATUSES,
} from "@plateau/contract";
import { type Db, finishJob, getJob, type Job, type JobOutcome, markRunning } from "@plateau/db";
import { jobEventsChannel, type TrainingJob } from "@plateau/queue";
import { dataUriPrefixes } from "@plateau/spec";
import { InvalidKeyPartError, type Storage } from "@plateau/storage";
import {
  buildModel,
  compileModel,
  fitArgs,
  loadData,
  type SelectedBackend,
  SpecError,
} from "@plateau/training";
import { type Logs, type TrainOutcome, train } from "@plateau/training/run";
import type { LayersModel } from "@tensorflow/tfjs";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { S3ArtifactSink } from "./artifact-sink";
import { EventLog } from "./event-log";
import { fetchData } from "./job-data";
import { ProgressWriter } from "./progress";

/** What every job of this worker process shares. */
export interface ProcessorContext {
  config: Config;
  log: Logger;
  backend: SelectedBackend;
  /** Recorded on the job row, so a user can tell which process trained it. */
  workerName: string;
  db: Db;
  storage: Storage;
  /** Live event fan-out; null leaves events to Postgres only. */
  publisher: Redis | null;
}

export interface TrainingResult {
  jobId: string;
  backend: string;
  worker: string;
  /** The job's status when the worker let go of it; null when no such job exists. */
  status: Job["status"] | null;
  stopReason?: JobOutcome["stopReason"];
}

/** A mistake in the job the user can fix: recorded as the job's error, never retried. */
function userMessage(error: unknown): string | null {
  if (error instanceof SpecError || error instanceof CallbackSpecError) return error.message;
  if (error instanceof InvalidKeyPartError)
    return `a callback names a file Plateau cannot store: ${error.message}`;
  // tfjs-layers reports a model that does not fit the data (input shape, label shape) as a ValueError.
  if (error instanceof Error && error.constructor.name === "ValueError") {
    return `the model does not fit the data: ${error.message} Change the first layer's input_shape or the last layer's units to match the data's features and labels.`;
  }
  return null;
}

/** Event payloads are JSON: a NaN or infinite metric becomes null. */
function jsonLogs(logs: Logs): Record<string, number | null> {
  return Object.fromEntries(
    Object.entries(logs).map(([key, value]) => [key, Number.isFinite(value) ? value : null]),
  );
}

/**
 * The BullMQ processor for one training job. `signal` aborts when the job is cancelled
 * (`worker.cancelJob`), which the training loop turns into `model.stopTraining = true`.
 * Throwing means "our side failed, retry later"; a user's mistake is recorded and returned.
 */
export function createProcessor(context: ProcessorContext) {
  const { config, db, backend, workerName } = context;
  return async (job: TrainingJob, _token?: string, signal?: AbortSignal): Promise<TrainingResult> => {
    const jobId = job.data.jobId;
    const log = context.log.child({ jobId, attempt: job.attemptsMade + 1 });
    const result = { jobId, backend: backend.name, worker: workerName };
    const row = await getJob(db, jobId);
    if (!row) {
      log.warn("no job row with this id; dropping the queue entry");
      return { ...result, status: null };
    }
    if (TERMINAL_STATUSES.has(row.status)) return { ...result, status: row.status };

    const events = await EventLog.open({
      db,
      publisher: context.publisher,
      channel: jobEventsChannel(config, jobId),
      jobId,
      flushMs: config.EVENT_FLUSH_MS,
      flushRows: config.EVENT_FLUSH_ROWS,
      maxPerSecond: config.MAX_EVENTS_PER_SECOND,
      log,
    });
    const finish = async (ended: JobOutcome): Promise<TrainingResult> => {
      // A message may quote user data of any size: the row, the event and the log get the same cut.
      const outcome = ended.error === undefined ? ended : { ...ended, error: boundMessage(ended.error) };
      await events.flush();
      const finished = await finishJob(db, jobId, outcome);
      if (finished) {
        events.append("status", {
          status: finished.status,
          stop_reason: outcome.stopReason,
          ...(outcome.error && { error: outcome.error }),
          ...(outcome.stopDetails && { details: outcome.stopDetails as Record<string, unknown> }),
        });
      }
      await events.close();
      const status = finished?.status ?? (await getJob(db, jobId))?.status ?? null;
      log.info({ status, stopReason: outcome.stopReason, error: outcome.error }, "job finished");
      return { ...result, status, stopReason: outcome.stopReason };
    };

    // A cancel that came between dequeue and start.
    if (row.cancelRequestedAt) return finish({ stopReason: "user_cancel" });
    if (!(await markRunning(db, jobId, { backend: backend.name, worker: workerName }))) {
      await events.close();
      return { ...result, status: (await getJob(db, jobId))?.status ?? null };
    }
    if (row.status === "running") {
      log.warn(
        { previousWorker: row.worker },
        "the job was already running: an earlier attempt stopped; this one takes over and trains it again",
      );
    }
    // The stream continues after the earlier attempt's last stored event (EventLog.open reads lastSeq).
    events.append("status", { status: "running", backend: backend.name, worker: workerName });
    log.info({ backend: backend.name }, "job started");

    try {
      const outcome = await runJob(context, row, events, log, signal);
      return await finish({
        stopReason: outcome.stopReason,
        stopDetails: outcome.stopDetails,
        epoch: outcome.lastEpoch ?? undefined,
        learningRate: outcome.learningRate,
      });
    } catch (error) {
      const message = userMessage(error);
      if (message !== null) return finish({ stopReason: "error", error: message });
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      log.error({ err: error, lastAttempt }, "job attempt failed on our side");
      if (lastAttempt) {
        return finish({
          stopReason: "error",
          error: `Plateau could not train this job (${(error as Error).message}); resubmit it, and report it if it fails again.`,
        });
      }
      await events.close().catch(() => {});
      throw error;
    }
  };
}

/** Builds the job's model, data and callbacks, trains, and leaves every artifact stored. */
async function runJob(
  context: ProcessorContext,
  row: Job,
  events: EventLog,
  log: Logger,
  signal?: AbortSignal,
): Promise<TrainOutcome> {
  const { config, db, storage } = context;
  const { tf } = context.backend;
  const spec = row.spec as unknown as JobSpec;
  const { tenantId } = row;
  const dataUris = { bucket: storage.bucket, prefixes: dataUriPrefixes(config.DATA_URI_PREFIXES, tenantId) };
  const fetched = await fetchData(spec.data, { db, storage, dataUris, tenantId });
  const data = loadData(tf, fetched.spec, fetched.files, { maxCells: config.MAX_DATA_CELLS });
  const sink = new S3ArtifactSink({ storage, db, jobId: row.id, events });
  let model: LayersModel | undefined;
  try {
    model = await buildModel(tf, spec.model);
    compileModel(tf, model, spec.compile as CompileSpec);
    const progress = new ProgressWriter({ db, jobId: row.id, log });
    // Counted per action, not listed: a Rule firing every batch would otherwise grow this without bound.
    const decisions = new Map<string, number>();
    const callbacks = callbacksFromSpecs((spec.callbacks ?? []) as CallbackSpec[], {
      onEvent: ({ callback, action, details, epoch, batch }) => {
        if (callback === "TerminateOnNaN" && action === "nan") sink.haltSaves("nan_loss");
        // The sink recorded that save as checkpoint_skipped instead.
        if (callback === "ModelCheckpoint" && action === "checkpoint" && sink.halted) return;
        events.append("callback", { callback, action, details }, { epoch, batch });
        decisions.set(action, (decisions.get(action) ?? 0) + 1);
      },
      sink,
      warn: (message) => log.warn(message),
    });
    let epochLogs: Logs = {};
    const outcome = await train({
      tf,
      model,
      data: data.train,
      args: fitArgs(spec.fit, data.validation),
      callbacks,
      signal,
      sampling: { every: config.BATCH_METRICS_EVERY, intervalMs: config.BATCH_METRICS_INTERVAL_MS },
      hooks: {
        epochMetrics: (epoch, logs) => {
          epochLogs = logs;
          events.append("epoch_end", { logs: jsonLogs(logs) }, { epoch });
        },
        batchMetrics: (epoch, batch, logs) =>
          events.append("batch_end", { logs: jsonLogs(logs) }, { epoch, batch }),
        epochEnd: (epoch) => {
          const { loss, val_loss, learning_rate } = epochLogs;
          log.info(
            { epoch, loss, val_loss, lr: learning_rate, decisions: Object.fromEntries(decisions) },
            "epoch",
          );
          decisions.clear();
          progress.update({ epoch, learningRate: learning_rate, best: sink.best ?? undefined });
        },
      },
    });
    await sink.drain();
    // The model the job ended with — after EarlyStopping restored its best weights, which it does when
    // training ends, inside fit() — for a job that succeeded, or that a user cancelled after an epoch.
    const keepsModel =
      outcome.stopReason === "completed" ||
      outcome.stopReason === "early_stopping" ||
      (outcome.stopReason === "user_cancel" && outcome.lastEpoch !== null);
    if (keepsModel) {
      const saved = await sink.saveFinalModel(tf, model);
      log.info(saved, "final model stored");
    }
    if (outcome.lastEpoch !== null) {
      progress.update({
        epoch: outcome.lastEpoch,
        learningRate: outcome.learningRate,
        best: sink.best ?? undefined,
      });
    }
    await progress.settle();
    return outcome;
  } finally {
    // Saves captured before a failure still land, and before the job's terminal event.
    await sink.drain().catch((error) => log.warn({ err: error }, "could not store a checkpoint"));
    // The model does not own an optimizer passed to compile(): its slots (e.g. Adam's moments) are freed here.
    model?.optimizer?.dispose();
    model?.dispose();
    tf.dispose([
      data.train.x,
      data.train.y,
      ...(data.validation ? [data.validation.x, data.validation.y] : []),
    ]);
  }
}
