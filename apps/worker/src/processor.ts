import type { Config } from "@plateau/config";
import { boundMessage, type JobSpec, TERMINAL_STATUSES } from "@plateau/contract";
import {
  type AttemptEnding,
  type Db,
  endAttempt,
  finishJob,
  getJob,
  type Job,
  type JobOutcome,
  listAttempts,
  markRunning,
  type ResumePoint,
  rollBackTo,
  setResumePoint,
} from "@plateau/db";
import { jobEventsChannel, type TrainingJob } from "@plateau/queue";
import { dataUriPrefixes } from "@plateau/spec";
import { deleteKeys, getObjectBytes, putObject, resumePrefix, type Storage } from "@plateau/storage";
import { WaitingError } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { S3ArtifactSink } from "./artifact-sink";
import { EventLog } from "./event-log";
import { fetchData } from "./job-data";
import { ProgressWriter } from "./progress";
import { retryS3 } from "./s3-retry";
import type { WorkerTelemetry } from "./telemetry";
import type { TrainerPool, TrainerProcess } from "./trainer/process";
import type { FromTrainer, TrainerOutcome } from "./trainer/protocol";
import { userMessage } from "./user-error";

/** What every job of this worker process shares. */
export interface ProcessorContext {
  config: Config;
  log: Logger;
  /** Where each job's trainer process comes from. */
  trainers: TrainerPool;
  /** Recorded on the job row, so a user can tell which process trained it. */
  workerName: string;
  db: Db;
  storage: Storage;
  /** Live event fan-out; null leaves events to Postgres only. */
  publisher: Redis | null;
  /** The worker's Prometheus metrics; tests leave it out. */
  telemetry?: WorkerTelemetry;
}

export interface TrainingResult {
  jobId: string;
  backend: string | null;
  worker: string;
  /** The job's status when the worker let go of it; null when no such job exists. */
  status: Job["status"] | null;
  stopReason?: JobOutcome["stopReason"];
  /** The trainer process that ran the job and the tensors it still held after (a leak shows here). */
  trainer?: { pid?: number; tensors?: number };
}

/** How one attempt's trainer ended, from the worker's side. */
type Ending =
  | { kind: "done"; outcome: TrainerOutcome }
  | { kind: "failed"; message: string; user: boolean }
  | { kind: "crashed"; cause: string };

/** The worker's processor, with what its shutdown needs. */
export interface Processor {
  (job: TrainingJob, token?: string, signal?: AbortSignal): Promise<TrainingResult>;
  /** Asks every running trainer to stop at its next batch end and hand its job back (SIGTERM). */
  handBack(): void;
  /**
   * The queue's locks of these jobs could not be renewed (Redis away past lockDuration): another worker may
   * hold them now, so their trainers stop at once and the attempts end as `lock_lost`.
   */
  loseLocks(jobIds: string[]): void;
}

/**
 * The BullMQ processor for one training job. The job trains in a trainer process of its own; this side
 * holds the queue's lock (its event loop is never busy with a batch), relays cancels (`signal` aborts on
 * `worker.cancelJob`), writes events, stores checkpoints and resume snapshots. A redelivered job resumes
 * from its newest snapshot. Throwing means "our side failed, retry later"; a user's mistake is recorded
 * and returned.
 */
export function createProcessor(context: ProcessorContext): Processor {
  const running = new Map<string, TrainerProcess>();
  const lockLost = new Set<string>();
  let handingBack = false;
  const processor = async (job: TrainingJob, token?: string, signal?: AbortSignal) => {
    const trainer = await context.trainers.take();
    const jobId = job.data.jobId;
    running.set(jobId, trainer);
    let clean = false;
    try {
      const result = await processJob(context, job, trainer, token, signal, () => lockLost.has(jobId));
      clean = !handingBack;
      return result;
    } finally {
      running.delete(jobId);
      lockLost.delete(jobId);
      if (clean) context.trainers.release(trainer);
      else trainer.kill();
    }
  };
  return Object.assign(processor, {
    handBack: () => {
      handingBack = true;
      for (const trainer of running.values()) trainer.send({ kind: "hand_back" });
    },
    loseLocks: (jobIds: string[]) => {
      for (const jobId of jobIds) {
        const trainer = running.get(jobId);
        if (!trainer) continue;
        lockLost.add(jobId);
        trainer.kill();
      }
    },
  });
}

async function processJob(
  context: ProcessorContext,
  job: TrainingJob,
  trainer: TrainerProcess,
  token: string | undefined,
  signal: AbortSignal | undefined,
  lostLock: () => boolean,
): Promise<TrainingResult> {
  const { config, db, workerName } = context;
  const jobId = job.data.jobId;
  const { backend } = await trainer.ready;
  let log = context.log.child({ job_id: jobId });
  const result = { jobId, backend, worker: workerName };
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
    maxBuffered: config.MAX_BUFFERED_EVENTS,
    telemetry: context.telemetry,
    onPressure: (paused) => trainer.send({ kind: paused ? "pause" : "go_on" }),
    log,
  });
  // A cancel that came between dequeue and start.
  if (row.cancelRequestedAt)
    return finish(context, events, jobId, { stopReason: "user_cancel" }, result, log);
  const started = await markRunning(db, jobId, { backend, worker: workerName });
  if (!started) {
    await events.close();
    return { ...result, status: (await getJob(db, jobId))?.status ?? null };
  }
  const { attempt } = started;
  log = log.child({ attempt });
  events.attempt = attempt;
  const resume = await resumeFrom(context, started, log);
  if (resume) context.telemetry?.resumed();
  if (attempt > 1) {
    const point = resume?.point ?? null;
    const epoch = point?.epoch ?? 0;
    const batch = point?.batch ?? 0;
    const rolledBack = await rollBackTo(db, jobId, attempt, point);
    const previous = (await listAttempts(db, jobId)).find((a) => a.attempt === attempt - 1);
    events.append(
      "resumed",
      {
        attempt,
        from_epoch: epoch,
        from_batch: batch,
        after_seq: point?.seq ?? 0,
        previous: { attempt: attempt - 1, ending: previous?.ending ?? null },
        rolled_back: rolledBack.events,
      },
      { epoch },
    );
    log.warn(
      { fromEpoch: epoch, fromBatch: batch, previous: previous?.ending, rolledBack },
      resume
        ? "resuming the job from its newest snapshot"
        : "an earlier attempt left no snapshot; training from the start",
    );
  }
  events.append("status", { status: "running", backend, worker: workerName });
  log.info(
    { backend, resumeFromEpoch: resume?.point.epoch ?? null, resumeFromBatch: resume?.point.batch ?? null },
    "job started",
  );

  const ending = await supervise(context, {
    job: started,
    trainer,
    events,
    resume: resume?.bytes ?? null,
    signal,
    log,
  });

  if (ending.kind === "done" && ending.outcome.stopReason === "handed_back") {
    await events.close().catch((error) => log.warn({ err: error }, "could not store every event"));
    await endAttempt(db, jobId, attempt, "shutdown", "the worker shut down and handed the job back");
    log.info("handed the job back to the queue");
    // Straight back to waiting, so another worker resumes it now rather than after the lock expires.
    await job.moveToWait(token);
    throw new WaitingError();
  }
  if (ending.kind === "done") {
    const { outcome } = ending;
    await endAttempt(db, jobId, attempt, "completed");
    return finish(
      context,
      events,
      jobId,
      {
        stopReason: outcome.stopReason as JobOutcome["stopReason"],
        stopDetails: outcome.stopDetails,
        epoch: outcome.lastEpoch ?? undefined,
        learningRate: outcome.learningRate,
      },
      { ...result, trainer: { pid: trainer.pid, tensors: outcome.tensors } },
      log,
      attempt,
    );
  }
  if (ending.kind === "failed" && ending.user) {
    await endAttempt(db, jobId, attempt, "completed");
    return finish(
      context,
      events,
      jobId,
      { stopReason: "error", error: ending.message },
      result,
      log,
      attempt,
    );
  }
  if (lostLock()) {
    await events.close().catch(() => {});
    await endAttempt(db, jobId, attempt, "lock_lost", "the worker could not renew the queue's lock");
    log.warn("lost the queue's lock: stopped training; the job resumes wherever the queue delivers it next");
    throw new Error("the worker lost the queue's lock on this job");
  }
  const cause = ending.kind === "crashed" ? ending.cause : ending.message;
  const attemptEnding: AttemptEnding = ending.kind === "crashed" ? "trainer_crashed" : "error";
  await endAttempt(db, jobId, attempt, attemptEnding, cause);
  const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  log.error({ cause, lastAttempt }, "job attempt failed on our side");
  if (lastAttempt) {
    return finish(
      context,
      events,
      jobId,
      {
        stopReason: "error",
        error: `Plateau could not train this job: ${cause} (attempt ${attempt}; ${job.opts.attempts ?? 1} tries by the queue). Resubmit it, and report it if it fails again; if the process ran out of memory, a smaller batch_size or model needs less.`,
      },
      result,
      log,
      attempt,
    );
  }
  await events.close().catch(() => {});
  throw new Error(cause);
}

/**
 * The job's newest complete snapshot, or null to train from the start (none yet, or it is gone). Read
 * through an S3 outage as writes are: starting over would throw away the run the snapshot holds.
 */
async function resumeFrom(
  { storage, config }: ProcessorContext,
  job: Job,
  log: Logger,
): Promise<{ point: ResumePoint; bytes: Uint8Array } | null> {
  const point = job.resumePoint as ResumePoint | null;
  if (!point) return null;
  const bytes = await retryS3(() => getObjectBytes(storage, point.key), {
    deadlineMs: config.S3_RETRY_DEADLINE_MS,
    onRetry: (error, tries) =>
      log.warn({ err: error, tries }, "could not read the resume snapshot; retrying"),
  });
  if (bytes) return { point, bytes };
  log.warn({ key: point.key }, "the job's resume snapshot is missing; training from the start");
  return null;
}

/** Runs the attempt's trainer to its end, doing what it asks on the way. */
function supervise(
  context: ProcessorContext,
  attempt: {
    job: Job;
    trainer: TrainerProcess;
    events: EventLog;
    resume: Uint8Array | null;
    signal?: AbortSignal;
    log: Logger;
  },
): Promise<Ending> {
  const { config, db, storage } = context;
  const { job, trainer, events, log } = attempt;
  const spec = job.spec as unknown as JobSpec;
  const sink = new S3ArtifactSink({
    storage,
    db,
    jobId: job.id,
    events,
    retryDeadlineMs: config.S3_RETRY_DEADLINE_MS,
    onRetry: (error, tries) => log.warn({ err: error, tries }, "S3 write failed; retrying"),
    telemetry: context.telemetry,
  });
  const progress = new ProgressWriter({ db, jobId: job.id, log, attempt: job.attempt });
  const snapshots = new SnapshotWriter(context, job, sink, log);
  // Counted per action, not listed: a Rule firing every batch would otherwise grow this without bound.
  const decisions = new Map<string, number>();
  const fail = (error: unknown): Ending => {
    const message = userMessage(error);
    return message !== null
      ? { kind: "failed", message, user: true }
      : { kind: "failed", message: (error as Error).message, user: false };
  };

  return new Promise<Ending>((resolve) => {
    let ended: Ending | null = null;
    /** When the epoch being trained began (the first: when the trainer was started). */
    let epochStarted = performance.now();
    const end = async (ending: Ending) => {
      if (ended) return;
      ended = ending;
      attempt.signal?.removeEventListener("abort", relayCancel);
      // Saves captured before the end still land, and before the job's terminal event.
      let settled = ending;
      try {
        await sink.drain();
        await snapshots.settle();
      } catch (error) {
        if (ending.kind === "done" && ending.outcome.stopReason !== "handed_back") settled = fail(error);
        log.warn({ err: error }, "could not store an artifact");
      }
      await progress.settle();
      resolve(settled);
    };
    const relayCancel = () => trainer.send({ kind: "cancel" });
    attempt.signal?.addEventListener("abort", relayCancel);
    if (attempt.signal?.aborted) relayCancel();

    // The trainer waits for the answer to a request; a failure ends the attempt with it.
    const answer = (id: number, work: Promise<unknown>) =>
      work.then(
        () => trainer.send({ kind: "reply", id }),
        (error: unknown) => {
          const message = userMessage(error);
          trainer.send({
            kind: "reply",
            id,
            error: { message: message ?? (error as Error).message, user: message !== null },
          });
        },
      );

    trainer.listen((message: FromTrainer) => {
      switch (message.kind) {
        case "event":
          events.append(message.type, message.data as never, { epoch: message.epoch, batch: message.batch });
          break;
        case "decision": {
          const { callback, action, details, epoch, batch } = message.event;
          if (callback === "TerminateOnNaN" && action === "nan") sink.haltSaves("nan_loss");
          // The sink records that save as checkpoint_skipped instead.
          if (callback === "ModelCheckpoint" && action === "checkpoint" && sink.halted) break;
          events.append("callback", { callback, action, details }, { epoch, batch });
          decisions.set(action, (decisions.get(action) ?? 0) + 1);
          break;
        }
        case "epoch": {
          const now = performance.now();
          const seconds = (now - epochStarted) / 1000;
          context.telemetry?.epochEnded({ seconds, samples: message.samples });
          // Timing each batch would cost the trainer a message per batch: its epoch's mean stands for them.
          context.telemetry?.batchTimed(seconds / message.batches);
          epochStarted = now;
          const { loss, val_loss, learning_rate } = message.logs;
          log.info(
            {
              epoch: message.epoch,
              loss,
              val_loss,
              lr: learning_rate,
              decisions: Object.fromEntries(decisions),
            },
            "epoch",
          );
          decisions.clear();
          progress.update({
            epoch: message.epoch,
            learningRate: learning_rate,
            best: sink.best ?? undefined,
          });
          break;
        }
        case "snapshot":
          // Every event the trainer sent before it is in the log: a resume rolls back only what came after.
          snapshots.offer(
            { epoch: message.epoch, batch: message.batch, seq: events.nextSeq - 1 },
            message.bytes,
          );
          break;
        case "save":
          void answer(message.id, sink.save(message.artifact, message.artifacts, message.topology));
          break;
        case "text":
          void answer(
            message.id,
            sink.appendText(message.filename, message.text, { append: message.append }),
          );
          break;
        case "final_model":
          void answer(
            message.id,
            sink
              .saveFinalModel(message.artifacts)
              .then((saved) =>
                log.info({ ...saved, trainingConfig: message.trainingConfig }, "final model stored"),
              ),
          );
          break;
        case "warn":
          log.warn(message.message);
          break;
        case "done":
          if (message.outcome.lastEpoch !== null) {
            progress.update({
              epoch: message.outcome.lastEpoch,
              learningRate: message.outcome.learningRate,
              best: sink.best ?? undefined,
            });
          }
          void end({ kind: "done", outcome: message.outcome });
          break;
        case "failed":
          void end({ kind: "failed", message: message.message, user: message.user });
          break;
        case "ready":
          break;
      }
    });
    void fetchData(spec.data, {
      db,
      storage,
      dataUris: { bucket: storage.bucket, prefixes: dataUriPrefixes(config.DATA_URI_PREFIXES, job.tenantId) },
      tenantId: job.tenantId,
    }).then(
      (data) =>
        trainer.send({
          kind: "start",
          job: { id: job.id, attempt: job.attempt, spec },
          data,
          resume: attempt.resume,
          config,
        }),
      (error: unknown) => void end(fail(error)),
    );
    void trainer.exited.then((cause) => end({ kind: "crashed", cause }));
  });
}

type SnapshotPosition = Required<Pick<ResumePoint, "epoch" | "batch" | "seq">>;

/**
 * Stores resume snapshots: uploaded under a key of their own, then the job row is pointed at it — so a
 * reader finds either the previous complete snapshot or this complete one, never a half-written object —
 * and the one before is deleted. Only the newest waits when uploads fall behind (an older one is
 * superseded before it is stored); checkpoints the trainer saved before the snapshot are stored first,
 * so a resumed run never lacks a checkpoint its callbacks' state remembers.
 */
class SnapshotWriter {
  private next: { at: SnapshotPosition; bytes: Uint8Array } | null = null;
  private writing: Promise<void> | null = null;
  private previousKey: string | null;

  constructor(
    private readonly context: ProcessorContext,
    private readonly job: Job,
    private readonly sink: S3ArtifactSink,
    private readonly log: Logger,
  ) {
    this.previousKey = (job.resumePoint as ResumePoint | null)?.key ?? null;
  }

  offer(at: SnapshotPosition, bytes: Uint8Array): void {
    this.next = { at, bytes };
    this.writing ??= this.write();
  }

  private async write(): Promise<void> {
    const { storage, db } = this.context;
    for (let next = this.next; next !== null; next = this.next) {
      this.next = null;
      const { at, bytes } = next;
      const key = `${resumePrefix(this.job.id)}attempt-${this.job.attempt}-epoch-${at.epoch}-batch-${at.batch}.snapshot`;
      try {
        await this.sink.drain();
        await this.sink.retry(() =>
          putObject(storage, key, bytes, { contentType: "application/octet-stream" }),
        );
        const point: ResumePoint = { key, ...at, attempt: this.job.attempt };
        if (!(await this.sink.retry(() => setResumePoint(db, this.job.id, point)))) break;
        if (this.previousKey && this.previousKey !== key) {
          await deleteKeys(storage, [this.previousKey]).catch(() => {});
        }
        this.previousKey = key;
      } catch (error) {
        // The previous snapshot stays the newest: a resume repeats a little more.
        this.log.warn({ err: error, ...at }, "could not store a resume snapshot");
      }
    }
    this.writing = null;
  }

  async settle(): Promise<void> {
    await this.writing;
  }
}

async function finish(
  context: ProcessorContext,
  events: EventLog,
  jobId: string,
  ended: JobOutcome,
  result: Omit<TrainingResult, "status">,
  log: Logger,
  attempt?: number,
): Promise<TrainingResult> {
  const { db, storage } = context;
  // A message may quote user data of any size: the row, the event and the log get the same cut.
  const outcome = ended.error === undefined ? ended : { ...ended, error: boundMessage(ended.error) };
  await events.flush();
  const finished = await finishJob(db, jobId, outcome, attempt);
  if (finished) {
    events.append("status", {
      status: finished.status,
      stop_reason: outcome.stopReason,
      ...(outcome.error && { error: outcome.error }),
      ...(outcome.stopDetails && { details: outcome.stopDetails as Record<string, unknown> }),
    });
    // An ended job resumes no more.
    const point = finished.resumePoint as ResumePoint | null;
    if (point) await deleteKeys(storage, [point.key]).catch(() => {});
  }
  await events.close();
  const status = finished?.status ?? (await getJob(db, jobId))?.status ?? null;
  log.info({ status, stopReason: outcome.stopReason, error: outcome.error }, "job finished");
  return { ...result, status, stopReason: outcome.stopReason };
}
