import {
  type ArtifactSink,
  type CheckpointArtifact,
  callbacksFromSpecs,
  webhookPolicy,
} from "@plateau/callbacks";
import { loadConfig } from "@plateau/config";
import {
  type CallbackSpec,
  type CompileSpec,
  RESUME_EVERY_SECONDS,
  type ResumeSpec,
} from "@plateau/contract";
import {
  buildModel,
  checkDataFitsModel,
  compileModel,
  fitArgs,
  loadData,
  selectBackend,
  type Tf,
} from "@plateau/training";
import { decodeSnapshot, encodeSnapshot, SeededRandom } from "@plateau/training/resume";
import { snapshot, train } from "@plateau/training/run";
import type { LayersModel } from "@tensorflow/tfjs";
import { userMessage } from "../user-error";
import { captureArtifacts, captureFinalModel } from "./capture";
import type { FromTrainer, StartMessage, ToTrainer, TrainerOutcome } from "./protocol";

/**
 * The trainer: a process of the worker's (./process.ts) that trains one job at a time. It trains and lets
 * the callbacks decide; everything else — the queue lock, Postgres, S3, Redis — is the worker's, reached
 * through messages. Its event loop may be busy for a whole batch; the worker's never is.
 */

const send = (message: FromTrainer) =>
  new Promise<void>((resolve, reject) =>
    process.send!(message, undefined, undefined, (error) => (error ? reject(error) : resolve())),
  );

/** Requests the worker answers (a checkpoint taken over for upload, …), by id. */
const waiting = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
let nextId = 1;
async function request(message: DistributiveOmit<Extract<FromTrainer, { id: number }>, "id">): Promise<void> {
  const id = nextId++;
  const answered = new Promise<void>((resolve, reject) => waiting.set(id, { resolve, reject }));
  await send({ ...message, id } as FromTrainer);
  return answered;
}
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Raised in the trainer for a request the worker could not do; `user` keeps the worker's verdict. */
class WorkerRefused extends Error {
  constructor(
    message: string,
    readonly user: boolean,
  ) {
    super(message);
  }
}

/** The running job's controls; a new job starts with fresh ones. */
let cancel = new AbortController();
let handingBack = false;
/** Open unless the worker asked training to wait; awaited at every batch end. */
let gate: { opened: Promise<void>; open: () => void } | null = null;

process.on("message", (message: ToTrainer) => {
  switch (message.kind) {
    case "start":
      void run(message);
      break;
    case "cancel":
      cancel.abort("user_cancel");
      break;
    case "hand_back":
      handingBack = true;
      cancel.abort("hand_back");
      gate?.open();
      break;
    case "pause":
      if (!gate) {
        let open!: () => void;
        const opened = new Promise<void>((resolve) => {
          open = resolve;
        });
        gate = { opened, open };
      }
      break;
    case "go_on":
      gate?.open();
      gate = null;
      break;
    case "reply": {
      const pending = waiting.get(message.id);
      waiting.delete(message.id);
      if (message.error) pending?.reject(new WorkerRefused(message.error.message, message.error.user));
      else pending?.resolve();
      break;
    }
  }
});
// The worker decides when training ends (a Ctrl-C reaches the whole process group); without the worker
// there is no one to hand results to, so the trainer ends with it.
process.on("SIGINT", () => {});
process.on("SIGTERM", () => {});
process.on("disconnect", () => process.exit(0));

/** Checkpoints handed to the worker that training does not wait for; beyond this it waits for the oldest. */
const MAX_UNANSWERED_SAVES = 2;

/**
 * Callbacks write through the worker, which uploads what they save. Training goes on while the worker
 * takes a checkpoint over (a round trip through its event loop each epoch would be training time); a
 * checkpoint it refused fails the next save, or `settle` at the end.
 */
class WorkerSink implements ArtifactSink {
  private topologySent = false;
  private readonly unanswered = new Set<Promise<void>>();
  private refused: Error | null = null;

  async saveModel(model: LayersModel, artifact: CheckpointArtifact): Promise<void> {
    this.throwIfRefused();
    const artifacts = await captureArtifacts(model, false);
    let topology: string | undefined;
    if (artifact.weights_only && !this.topologySent) {
      this.topologySent = true;
      // A weights-only checkpoint is served with the job's topology, stored once.
      topology = JSON.stringify(model.toJSON(null, false));
    }
    const answered: Promise<void> = request({ kind: "save", artifact, artifacts, topology })
      .catch((error: Error) => {
        this.refused ??= error;
      })
      .finally(() => this.unanswered.delete(answered));
    this.unanswered.add(answered);
    while (this.unanswered.size > MAX_UNANSWERED_SAVES) await Promise.race(this.unanswered);
    this.throwIfRefused();
  }

  /** Waits until the worker took every checkpoint over; throws what it refused. */
  async settle(): Promise<void> {
    await Promise.all(this.unanswered);
    this.throwIfRefused();
  }

  private throwIfRefused(): void {
    if (this.refused) throw this.refused;
  }

  async appendText(filename: string, text: string, options: { append: boolean }): Promise<void> {
    await request({ kind: "text", filename, text, append: options.append });
  }
}

const backend = await selectBackend(loadConfig().TFJS_BACKEND, {
  log: (message) => void send({ kind: "warn", message }),
});
await send({
  kind: "ready",
  backend: backend.name,
  tried: backend.report,
  cpuFallbacks: backend.cpuFallbacks,
});

async function run(start: StartMessage): Promise<void> {
  cancel = new AbortController();
  handingBack = false;
  gate = null;
  try {
    const outcome = await trainJob(backend.tf, start);
    await send({ kind: "done", outcome: { ...outcome, tensors: backend.tf.memory().numTensors } });
  } catch (error) {
    const user = error instanceof WorkerRefused ? error.user : userMessage(error) !== null;
    const message = (error instanceof WorkerRefused ? error.message : userMessage(error)) ?? String(error);
    await send({ kind: "failed", message, user });
  }
}

async function trainJob(
  tf: Tf,
  { job, data: fetched, resume, config }: StartMessage,
): Promise<TrainerOutcome> {
  const { spec } = job;
  // Seeded before anything draws: weight initialization is part of what the seed decides.
  const random = new SeededRandom(spec.seed ?? 0);
  random.install();
  const data = loadData(tf, fetched.spec, fetched.files, { maxCells: config.MAX_DATA_CELLS });
  let model: LayersModel | undefined;
  try {
    model = await buildModel(tf, spec.model);
    return await fitModel(tf, model, data, { job, resume, config }, random);
  } finally {
    // The process trains the next job too: nothing of this one stays. The model does not own an
    // optimizer passed to compile(): its slots (e.g. Adam's moments) are freed here.
    model?.optimizer?.dispose();
    model?.dispose();
    tf.dispose([
      data.train.x,
      data.train.y,
      ...(data.validation ? [data.validation.x, data.validation.y] : []),
    ]);
  }
}

async function fitModel(
  tf: Tf,
  model: LayersModel,
  data: ReturnType<typeof loadData>,
  { job, resume, config }: Omit<StartMessage, "kind" | "data">,
  seeded: SeededRandom,
): Promise<TrainerOutcome> {
  const { spec } = job;
  let random = seeded;
  compileModel(tf, model, spec.compile as CompileSpec);
  // What Keras raises at fit for data read from files (inline and builtin data were checked at submission).
  checkDataFitsModel(model, spec.compile as CompileSpec, data);
  const sink = new WorkerSink();
  const callbacks = callbacksFromSpecs((spec.callbacks ?? []) as CallbackSpec[], {
    // A job handed back ends its fit here only to continue elsewhere: what callbacks do at this train end
    // (EarlyStopping restoring its best weights) is not the job's.
    onEvent: (event) => void (handingBack || send({ kind: "decision", event })),
    sink,
    warn: (message) => void send({ kind: "warn", message }),
    // Built here: the policy holds address ranges that do not cross IPC. A Webhook's calls are the one
    // I/O a trainer does itself, as a Keras custom callback calls out from inside fit().
    webhook: { jobId: job.id, attempt: job.attempt, policy: webhookPolicy(config) },
  });
  const restored = resume ? decodeSnapshot(resume) : null;
  if (restored) {
    // Where the interrupted run's draws had got to: the next shuffle and dropout masks are the ones it
    // would have drawn.
    random = new SeededRandom(spec.seed ?? 0, restored.random);
    random.install();
  }
  const args = fitArgs(spec.fit, data.validation);
  const rows = data.train.y.shape[0];
  const samples = args.validationSplit ? Math.floor(rows * (1 - args.validationSplit)) : rows;
  const batches = Math.ceil(samples / (args.batchSize ?? 32));
  const schedule = new SnapshotSchedule(spec.resume);
  const sendSnapshot = async (epoch: number, batch: number) => {
    if (spec.resume?.enabled === false) return;
    const state = await snapshot(model, callbacks, epoch, batch);
    await send({ kind: "snapshot", epoch, batch, bytes: encodeSnapshot({ state, random: random.state() }) });
    schedule.taken();
  };
  const outcome = await train({
    tf,
    model,
    data: data.train,
    args,
    callbacks,
    initialState: restored?.state,
    random,
    signal: cancel.signal,
    sampling: { every: config.BATCH_METRICS_EVERY, intervalMs: config.BATCH_METRICS_INTERVAL_MS },
    hooks: {
      epochMetrics: (epoch, logs) =>
        void send({ kind: "event", type: "epoch_end", data: { logs: jsonLogs(logs) }, epoch }),
      batchMetrics: (epoch, batch, logs) =>
        void send({ kind: "event", type: "batch_end", data: { logs: jsonLogs(logs) }, epoch, batch }),
      batchEnd: async (epoch, batch) => {
        await gate?.opened;
        // The epoch's last batch is followed by its end's snapshot.
        if (batch + 1 >= batches) return;
        // A worker shutting down hands the job back from this very batch.
        if (handingBack || schedule.due()) await sendSnapshot(epoch, batch + 1);
      },
      epochEnd: async (epoch, logs) => {
        await send({ kind: "epoch", epoch, logs, samples, batches });
        if (schedule.dueAtEpochEnd()) await sendSnapshot(epoch + 1, 0);
      },
    },
  });
  const { history: _history, ...ended } = outcome;
  await sink.settle();
  if (handingBack) return { ...ended, stopReason: "handed_back" };
  // The model the job ended with — after EarlyStopping restored its best weights, which it does when
  // training ends, inside fit() — for a job that succeeded, or that a user cancelled after an epoch.
  const keepsModel =
    outcome.stopReason === "completed" ||
    outcome.stopReason === "early_stopping" ||
    (outcome.stopReason === "user_cancel" && outcome.lastEpoch !== null);
  if (keepsModel) await request({ kind: "final_model", ...(await captureFinalModel(tf, model)) });
  return ended;
}

/** When a snapshot inside an epoch is due: `resume.every_n_batches` batches or `every_seconds` after the last. */
class SnapshotSchedule {
  /**
   * Snapshots on schedule (epoch ends included) are at least this far apart. Each costs the trainer a read
   * of the weights and the worker an upload, a pointer update and a delete; with epochs of a few ms that
   * was most of the service's overhead (`npm run bench -- resume`), while a lost worker repeats at most
   * this much more training. A shutdown's snapshot is never held back.
   */
  static readonly MIN_INTERVAL_MS = 1000;
  private batches = 0;
  private since = performance.now();
  private readonly everyBatches: number | null;
  private readonly everyMs: number | null;

  constructor(resume: ResumeSpec | undefined) {
    this.everyBatches = resume?.every_n_batches ?? null;
    const seconds = resume?.every_seconds === undefined ? RESUME_EVERY_SECONDS : resume.every_seconds;
    this.everyMs = seconds === null ? null : seconds * 1000;
  }

  /** Called at every batch end inside an epoch. */
  due(): boolean {
    this.batches += 1;
    const elapsed = performance.now() - this.since;
    return (
      elapsed >= SnapshotSchedule.MIN_INTERVAL_MS &&
      ((this.everyBatches !== null && this.batches >= this.everyBatches) ||
        (this.everyMs !== null && elapsed >= this.everyMs))
    );
  }

  /** Called at every epoch end. */
  dueAtEpochEnd(): boolean {
    return performance.now() - this.since >= SnapshotSchedule.MIN_INTERVAL_MS;
  }

  taken(): void {
    this.batches = 0;
    this.since = performance.now();
  }
}

/** Event payloads are JSON: a NaN or infinite metric becomes null. */
function jsonLogs(logs: Record<string, number>): Record<string, number | null> {
  return Object.fromEntries(
    Object.entries(logs).map(([key, value]) => [key, Number.isFinite(value) ? value : null]),
  );
}
