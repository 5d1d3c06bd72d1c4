import {
  getLearningRate,
  type JsonObject,
  type KerasCallback,
  type NonFiniteLoss,
  resolveLogs,
  setLearningRate,
  type TerminateOnNaN,
  type UnresolvedLogs,
} from "@plateau/callbacks";
import {
  Callback,
  type DataType,
  type History,
  type LayersModel,
  type ModelFitArgs,
  type NamedTensorMap,
  type Tensor,
} from "@tensorflow/tfjs";
import type { Tf } from "./backend";
import type { Dataset } from "./data";
import type { SeededRandom } from "./random";

/**
 * The fit loop a job runs: the job's Keras callbacks plus what a service needs around them — metrics
 * handed out as they happen (batch metrics sampled), a cancel signal honoured at the next batch end, a
 * stop reason, and a state that can be snapshotted at any epoch end and trained on from later, possibly
 * in another process. No I/O here: the caller decides where metrics and snapshots go.
 */

export type StopReason = "completed" | "early_stopping" | "nan_loss" | "user_cancel";
export type Logs = Record<string, number>;

/** One tensor of a snapshot, as plain values so it can be stored anywhere and restored on any backend. */
export interface StateTensor {
  name: string;
  shape: number[];
  dtype: DataType;
  values: Float32Array | Int32Array | Uint8Array;
}

/** Everything training depends on at an epoch boundary, Keras's `initial_epoch` included. */
export interface TrainingState {
  /** Epochs finished: training continues at this epoch index. */
  epoch: number;
  learningRate: number;
  weights: StateTensor[];
  /** The optimizer's slots (Adam's moments, …) and iteration count. */
  optimizer: StateTensor[];
  /** `exportState()` of each job callback, in the order the callbacks were given. */
  callbacks: JsonObject[];
  /**
   * The order fit's shuffling had left the training rows in (tfjs shuffles the previous epoch's order
   * again, in place); absent when the job does not shuffle or draws from no SeededRandom.
   */
  order?: Int32Array;
}

export interface MetricsSampling {
  /** Hand out a batch's metrics every this many batches (counted across epochs)… */
  every: number;
  /** …or when this many ms have passed since the last sampled batch. */
  intervalMs: number;
}

export interface TrainHooks {
  /** Each epoch's logs with the `learning_rate` in effect, before any job callback acts on them. */
  epochMetrics?(epoch: number, logs: Logs): void;
  /** A sampled batch's logs with `learning_rate`. Other batches are not read: a read syncs the device. */
  batchMetrics?(epoch: number, batch: number, logs: Logs): void;
  /** After every batch, once the loop yielded; training waits while it runs (e.g. paused by its worker). */
  batchEnd?(): Promise<void> | undefined;
  /**
   * After every job callback handled the epoch end: where `snapshot(…, epoch + 1)` is consistent. Not
   * called for an epoch the signal broke off.
   */
  epochEnd?(epoch: number, logs: Logs): void | Promise<void>;
}

export interface TrainOptions {
  tf: Tf;
  /** A compiled model. */
  model: LayersModel;
  data: Dataset;
  /** tfjs fit arguments (see `fitArgs`); `initialEpoch` is taken from `initialState` when given. */
  args: ModelFitArgs;
  /** The job's callbacks (`callbacksFromSpecs`). */
  callbacks: KerasCallback[];
  /** Continue a run from this snapshot instead of starting afresh. */
  initialState?: TrainingState;
  /**
   * The generator installed as Math.random: with it, the shuffle order is followed (and snapshotted), so a
   * resumed run shuffles exactly as an uninterrupted one.
   */
  random?: SeededRandom;
  /** Aborting stops training at the next batch end, with stop reason `user_cancel`. */
  signal?: AbortSignal;
  sampling?: MetricsSampling;
  hooks?: TrainHooks;
}

export interface TrainOutcome {
  stopReason: StopReason;
  /** Where training stopped early: the NaN batch and its value, the cancelled batch, the stopping epoch. */
  stopDetails?: Record<string, number | string>;
  /** Index of the last epoch that ran (0-based, as callbacks see it), or null when none did. */
  lastEpoch: number | null;
  /** The rate at the end, after any reductions. */
  learningRate: number;
  history: History;
}

/** Runs first, so metrics leave with the rate they were trained at, before a callback changes it. */
class MetricsTap extends Callback {
  private epoch = 0;
  private batchesSinceSample = 0;
  private lastSampleAt = performance.now();

  constructor(
    private readonly hooks: TrainHooks,
    private readonly sampling: MetricsSampling,
  ) {
    super();
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.epoch = epoch;
  }

  override async onBatchEnd(batch: number, logs?: UnresolvedLogs): Promise<void> {
    if (!this.hooks.batchMetrics) return;
    this.batchesSinceSample += 1;
    const now = performance.now();
    if (this.batchesSinceSample < this.sampling.every && now - this.lastSampleAt < this.sampling.intervalMs) {
      return;
    }
    this.batchesSinceSample = 0;
    this.lastSampleAt = now;
    // Resolved in place: TerminateOnNaN reads the same logs next and then finds numbers, not tensors.
    const { batch: _index, size: _size, ...metrics } = await resolveLogs(logs);
    this.hooks.batchMetrics(this.epoch, batch, { ...metrics, learning_rate: getLearningRate(this.model) });
  }

  override async onEpochEnd(epoch: number, logs?: UnresolvedLogs): Promise<void> {
    const metrics = await resolveLogs(logs);
    this.hooks.epochMetrics?.(epoch, { ...metrics, learning_rate: getLearningRate(this.model) });
  }
}

/**
 * Runs last: turns an abort into `stopTraining` at the next batch end and notes who else stopped training.
 * It also yields to the event loop once per batch; on CPU backends a whole fit is otherwise one chain of
 * microtasks, and the cancel message, event flushes and queue lock renewals would wait for its end.
 */
class LoopControl extends Callback {
  epoch = 0;
  lastEpoch: number | null = null;
  /** Where a job callback (EarlyStopping, a Rule) set stopTraining. */
  stoppedByCallback: { epoch: number; batch?: number } | null = null;
  cancelledAt: { epoch: number; batch?: number } | null = null;
  /** The last batch that ran: a cancel seen at epoch end stopped training right after it. */
  private lastBatch: number | undefined;

  constructor(
    private readonly hooks: TrainHooks,
    private readonly signal?: AbortSignal,
  ) {
    super();
  }

  private check(batch?: number): void {
    const at = batch === undefined ? { epoch: this.epoch } : { epoch: this.epoch, batch };
    if (this.model.stopTraining && !this.cancelledAt) this.stoppedByCallback ??= at;
    if (this.signal?.aborted && !this.cancelledAt) {
      this.cancelledAt = { epoch: this.epoch, batch: batch ?? this.lastBatch };
      this.model.stopTraining = true;
    }
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.epoch = epoch;
  }

  override async onBatchEnd(batch: number): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    await this.hooks.batchEnd?.();
    this.lastBatch = batch;
    this.check(batch);
  }

  override async onEpochEnd(epoch: number, logs?: UnresolvedLogs): Promise<void> {
    this.lastEpoch = epoch;
    this.check();
    // fit ends an epoch it broke off too; a cancelled epoch is no state to continue from.
    if (this.cancelledAt) return;
    await this.hooks.epochEnd?.(epoch, await resolveLogs(logs));
  }
}

/**
 * Follows the order tfjs's fit leaves the training rows in. At each epoch begin fit shuffles its index
 * array in place with Math.random; this callback runs just before, shuffling a mirror of that array with a
 * copy of the generator, so both make the same swaps. Fisher-Yates swaps positions whatever they hold, so
 * a resumed fit — which starts from rows 0…n-1 — trains on the rows as the mirror ordered them and then
 * shuffles exactly as the uninterrupted fit did (see `train`).
 */
class ShuffleOrder extends Callback {
  constructor(
    private readonly tf: Tf,
    private readonly random: SeededRandom,
    readonly order: Int32Array,
  ) {
    super();
  }

  override async onEpochBegin(): Promise<void> {
    const unseeded = Math.random;
    Math.random = this.random.fork();
    try {
      this.tf.util.shuffle(this.order);
    } finally {
      Math.random = unseeded;
    }
  }
}

/** Where fit splits `validation_split` off: the rows before it are trained on (tfjs's own formula). */
function trainingRows(data: Dataset, args: ModelFitArgs): number {
  const rows = data.y.shape[0];
  return args.validationSplit ? Math.floor(rows * (1 - args.validationSplit)) : rows;
}

/** The dataset with its first `order.length` rows in `order`, the rest (the validation split) unmoved. */
function reordered(tf: Tf, data: Dataset, order: Int32Array): Dataset {
  const move = (t: Tensor) =>
    tf.tidy(() => {
      const indices = tf.tensor1d(order, "int32");
      const head = tf.gather(t, indices);
      return order.length === t.shape[0] ? head : tf.concat([head, t.slice(order.length)]);
    });
  const x = data.x;
  const movedX =
    x instanceof tf.Tensor
      ? move(x)
      : Object.fromEntries(Object.entries(x as NamedTensorMap).map(([name, t]) => [name, move(t)]));
  return { ...data, x: movedX, y: move(data.y) };
}

function isTerminateOnNaN(callback: KerasCallback): callback is TerminateOnNaN {
  return callback.type === "TerminateOnNaN";
}

/** The order each model in training has its rows in, for `snapshot`. */
const shuffleOrders = new WeakMap<LayersModel, ShuffleOrder | null>();

/** Trains `model` with the job's callbacks and reports why it stopped. */
export async function train(options: TrainOptions): Promise<TrainOutcome> {
  const { tf, model, callbacks, signal, initialState, random, args } = options;
  const hooks = options.hooks ?? {};
  if (initialState) await restore(tf, model, callbacks, initialState);
  const tap = new MetricsTap(hooks, options.sampling ?? { every: 1, intervalMs: 0 });
  const control = new LoopControl(hooks, signal);
  const rows = trainingRows(options.data, args);
  const shuffle =
    random && args.shuffle !== false
      ? new ShuffleOrder(tf, random, initialState?.order ?? Int32Array.from({ length: rows }, (_, i) => i))
      : null;
  const data = initialState?.order ? reordered(tf, options.data, initialState.order) : options.data;
  shuffleOrders.set(model, shuffle);
  let history: History;
  try {
    history = await model.fit(data.x, data.y, {
      ...args,
      initialEpoch: initialState?.epoch ?? args.initialEpoch,
      callbacks: [...(shuffle ? [shuffle] : []), tap, ...callbacks, control],
    });
  } finally {
    shuffleOrders.delete(model);
    if (data !== options.data)
      tf.dispose([data.y, ...(data.x instanceof tf.Tensor ? [data.x] : Object.values(data.x))]);
  }
  const outcome = { lastEpoch: control.lastEpoch, learningRate: getLearningRate(model), history };
  const nan = callbacks.filter(isTerminateOnNaN).find((c) => c.terminated)?.terminated;
  if (nan) return { ...outcome, stopReason: "nan_loss", stopDetails: nanDetails(nan) };
  if (control.cancelledAt) return { ...outcome, stopReason: "user_cancel", stopDetails: control.cancelledAt };
  if (control.stoppedByCallback) {
    return { ...outcome, stopReason: "early_stopping", stopDetails: control.stoppedByCallback };
  }
  return { ...outcome, stopReason: "completed" };
}

/** JSON has no NaN or infinities: the value is kept as its name. */
function nanDetails(nan: NonFiniteLoss): Record<string, number | string> {
  return { epoch: nan.epoch, batch: nan.batch, value: String(nan.value) };
}

async function readTensor(
  name: string,
  tensor: { shape: number[]; dtype: DataType; data(): Promise<unknown> },
) {
  const values = (await tensor.data()) as StateTensor["values"];
  // A copy: some backends hand out their own buffer, which the next training step overwrites.
  return { name, shape: [...tensor.shape], dtype: tensor.dtype, values: values.slice() };
}

/**
 * The state after `epoch` epochs (call it from `hooks.epochEnd(epoch - 1)` or after `train`): weights,
 * optimizer slots, learning rate and every callback's state.
 */
export async function snapshot(
  model: LayersModel,
  callbacks: KerasCallback[],
  epoch: number,
): Promise<TrainingState> {
  const weights = await Promise.all(model.weights.map((w) => readTensor(w.originalName, w.read())));
  const slots = await model.optimizer.getWeights();
  const optimizer = await Promise.all(slots.map((slot) => readTensor(slot.name, slot.tensor)));
  // getWeights makes a fresh scalar for the iteration count; the other slots are the optimizer's own.
  for (const slot of slots) if (slot.name === "iter") slot.tensor.dispose();
  const order = shuffleOrders.get(model)?.order;
  return {
    epoch,
    learningRate: getLearningRate(model),
    weights,
    optimizer,
    callbacks: callbacks.map((callback) => callback.exportState()),
    ...(order && { order: order.slice() }),
  };
}

/** Puts a compiled model, its optimizer and freshly built callbacks back into a snapshot's state. */
export async function restore(
  tf: Tf,
  model: LayersModel,
  callbacks: KerasCallback[],
  state: TrainingState,
): Promise<void> {
  if (state.callbacks.length !== callbacks.length || state.weights.length !== model.weights.length) {
    throw new Error(
      `the snapshot holds ${state.weights.length} weights and ${state.callbacks.length} callback states; ` +
        `this run has ${model.weights.length} weights and ${callbacks.length} callbacks`,
    );
  }
  const toTensor = (t: StateTensor) => tf.tensor(t.values, t.shape, t.dtype);
  const weights = state.weights.map(toTensor);
  model.setWeights(weights);
  tf.dispose(weights);
  const slots = state.optimizer.map((t) => ({ name: t.name, tensor: toTensor(t) }));
  await model.optimizer.setWeights(slots);
  tf.dispose(slots.map((slot) => slot.tensor));
  setLearningRate(model, state.learningRate);
  callbacks.forEach((callback, i) => {
    callback.restoreState(state.callbacks[i]);
  });
}
