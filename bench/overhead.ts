import type { CallbackSpec, CompileSpec, DataSpec, FitSpec, JobSpec, ModelSpec } from "@plateau/contract";
import { buildModel, compileModel, fitArgs, loadData, selectBackend, type Tf } from "@plateau/training";
import { median, ms, progress, type Row } from "./report";
import type { Stack } from "./stack";

// Even, so each side goes first equally often.
const ROUNDS = 4;

/** Changes the rate every epoch from the 3rd, so the scheduler really acts (and composes with reductions). */
const SCHEDULE = "epoch < 2 ? lr : lr * 0.98";

interface Workload {
  name: string;
  spec: JobSpec;
  /** The goal for the ratio, where it sets one ((c) and (d) show what checkpoints cost). */
  target?: number;
}

/** The example job with every epoch checkpointed: epochs of ~10 ms, so per-epoch costs show in full. */
export const iris: Workload = {
  name: "(a) iris, 50 epochs",
  target: 1.1,
  spec: {
    name: "bench-iris",
    model: {
      layers: [
        { class_name: "Dense", config: { units: 64, activation: "relu", input_shape: [4] } },
        { class_name: "Dense", config: { units: 3, activation: "softmax" } },
      ],
    },
    compile: {
      optimizer: { name: "adam", learning_rate: 0.01 },
      loss: "sparse_categorical_crossentropy",
      metrics: ["accuracy"],
    },
    data: { source: "builtin", name: "iris" },
    fit: { epochs: 50, batch_size: 16, validation_split: 0.2, shuffle: true },
    callbacks: [
      { type: "ReduceLROnPlateau", monitor: "val_loss", factor: 0.2, patience: 5, min_lr: 0.001 },
      // Never stops within the run: the comparison needs the same number of epochs on both sides.
      { type: "EarlyStopping", monitor: "loss", patience: 1000 },
      { type: "TerminateOnNaN" },
      {
        type: "ModelCheckpoint",
        monitor: "val_acc",
        mode: "max",
        save_best_only: false,
        save_weights_only: true,
      },
      { type: "LearningRateScheduler", schedule: SCHEDULE },
    ],
  },
};

const irisWithoutCheckpoints: Workload = {
  name: "(d) = (a) without ModelCheckpoint",
  spec: { ...iris.spec, callbacks: withoutCheckpoints(iris.spec.callbacks!) },
};

function withoutCheckpoints(callbacks: CallbackSpec[]): CallbackSpec[] {
  return callbacks.filter((callback) => callback.type !== "ModelCheckpoint");
}

const regressionCallbacks: CallbackSpec[] = [
  { type: "ReduceLROnPlateau", monitor: "val_loss", factor: 0.5, patience: 3, min_lr: 1e-5 },
  { type: "EarlyStopping", monitor: "val_loss", patience: 1000 },
  { type: "TerminateOnNaN" },
  // Full models (topology + weights, ~300 KB) under a new name each epoch, as Keras's default filepath does.
  { type: "ModelCheckpoint", monitor: "val_loss", save_best_only: false },
  { type: "LearningRateScheduler", schedule: SCHEDULE },
];

/** Epochs of ~0.5–1 s on wasm: what a job on real hardware looks like, relative to its per-epoch costs. */
export const regression: Workload = {
  name: "(b) regression 3000×32, Dense 256-256-1, 10 epochs",
  target: 1.03,
  spec: {
    name: "bench-regression",
    model: {
      layers: [
        { class_name: "Dense", config: { units: 256, activation: "relu", input_shape: [32] } },
        { class_name: "Dense", config: { units: 256, activation: "relu" } },
        { class_name: "Dense", config: { units: 1 } },
      ],
    },
    compile: { optimizer: { name: "adam", learning_rate: 0.001 }, loss: "mse" },
    data: { source: "builtin", name: "regression", samples: 3000, features: 32, seed: 7 },
    fit: { epochs: 10, batch_size: 32, validation_split: 0.2, shuffle: true },
    callbacks: regressionCallbacks,
  },
};

const regressionWithoutCheckpoints: Workload = {
  name: "(c) = (b) without ModelCheckpoint",
  spec: {
    ...regression.spec,
    callbacks: withoutCheckpoints(regressionCallbacks),
  },
};

/**
 * `model.fit` alone, no callbacks, in this process. Building the model and loading the data are timed apart
 * (`setupMs`): the job's time includes them, the fit time compared against it does not.
 */
async function bareFit(tf: Tf, spec: JobSpec): Promise<{ fitMs: number; setupMs: number }> {
  const setupStart = performance.now();
  const model = await buildModel(tf, spec.model as ModelSpec);
  compileModel(tf, model, spec.compile as CompileSpec);
  const data = loadData(tf, spec.data as DataSpec);
  const args = fitArgs(spec.fit as FitSpec, data.validation);
  const start = performance.now();
  await model.fit(data.train.x, data.train.y, args);
  const fitMs = performance.now() - start;
  // The model does not own an optimizer it was compiled with as an instance.
  model.optimizer.dispose();
  model.dispose();
  tf.dispose([data.train.x, data.train.y]);
  return { fitMs, setupMs: start - setupStart };
}

interface ServiceRun {
  /** The job row's started_at → finished_at. */
  trainingMs: number;
  /** Events the SSE client received, by type. */
  events: Record<string, number>;
  checkpoints: number;
}

/** Submits over HTTP, follows the job's SSE stream to `done`, and reads the times off the job row. */
export async function throughService(stack: Stack, spec: JobSpec): Promise<ServiceRun> {
  const { client } = stack;
  const { id } = await client.submitJob(spec);
  const events: Record<string, number> = {};
  for await (const event of client.streamEvents(id)) events[event.type] = (events[event.type] ?? 0) + 1;
  const job = await client.getJob(id);
  if (job.status !== "succeeded" || job.stop_reason !== "completed" || job.epoch !== spec.fit.epochs - 1) {
    throw new Error(
      `job ${id} (${spec.name}) ended ${job.status}/${job.stop_reason} at epoch ${job.epoch}: ${job.error ?? "no error"}`,
    );
  }
  const checkpoints = (await client.checkpoints(id)).items.length;
  return {
    trainingMs: Date.parse(job.finished_at!) - Date.parse(job.started_at!),
    events,
    checkpoints,
  };
}

function withEpochs(spec: JobSpec, epochs: number): JobSpec {
  return { ...spec, fit: { ...spec.fit, epochs } };
}

/**
 * Bare `model.fit` in this process vs the same job through the API, the queue and a worker process (wasm
 * on both sides), alternating which goes first in each round, so drift in machine load hits both.
 */
export async function overhead(stack: Stack): Promise<Row[]> {
  const { tf, name: backend } = await selectBackend("wasm");
  const worker = await stack.startWorker();
  const rows: Row[] = [];
  try {
    const workloads = [iris, regression, regressionWithoutCheckpoints, irisWithoutCheckpoints];
    progress(`warming up both sides on ${backend} (one epoch of each workload)`);
    for (const { spec } of workloads) {
      await bareFit(tf, withEpochs(spec, 1));
      await throughService(stack, withEpochs(spec, 1));
    }
    for (const workload of workloads) {
      const bare: number[] = [];
      const setup: number[] = [];
      const service: number[] = [];
      let last: ServiceRun | undefined;
      for (let round = 0; round < ROUNDS; round++) {
        const runBare = async () => {
          const { fitMs, setupMs } = await bareFit(tf, workload.spec);
          bare.push(fitMs);
          setup.push(setupMs);
        };
        const runService = async () => {
          last = await throughService(stack, workload.spec);
          service.push(last.trainingMs);
        };
        for (const step of round % 2 === 0 ? [runBare, runService] : [runService, runBare]) await step();
        progress(
          `${workload.name} round ${round + 1}/${ROUNDS}: bare ${ms(bare.at(-1)!)}, service ${ms(service.at(-1)!)}`,
        );
      }
      const epochs = workload.spec.fit.epochs;
      const { epoch_end = 0, batch_end = 0, callback = 0 } = last!.events;
      progress(
        `${workload.name}: each job streamed ${epoch_end} epoch_end, ${batch_end} batch_end, ${callback} callback ` +
          `events over SSE (batch_end sampled by the API) and stored ${last!.checkpoints} checkpoints; per epoch: bare ${ms(median(bare) / epochs)}, ` +
          `service ${ms(median(service) / epochs)}; building the model and data (in the job's time, not in ` +
          `the bare fit's) takes ${ms(median(setup))} bare`,
      );
      rows.push({
        benchmark: "overhead",
        measure: `${workload.name}: training time, median of ${ROUNDS}`,
        plateau: ms(median(service)),
        baseline: ms(median(bare)),
        ratio: median(service) / median(bare),
        target: workload.target,
      });
    }
    return rows;
  } finally {
    await worker.stop();
  }
}
