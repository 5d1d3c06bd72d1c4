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
  type Scalar,
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

/** Everything training depends on at a batch end, Keras's `initial_epoch` included. */
export interface TrainingState {
  /** Epochs finished: training continues at this epoch index. */
  epoch: number;
  /** Batches of `epoch` already trained, for a snapshot taken inside an epoch; absent at an epoch boundary. */
  batch?: number;
  /** With `batch`: the epoch's running totals so far, from which its logs are computed at its end. */
  totals?: EpochTotalsState;
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

/** tfjs's BaseLogger's running sums (float32: metric × batch size, summed) and the samples they cover. */
export interface EpochTotalsState {
  seen: number;
  sums: Record<string, number>;
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
  /**
   * After every batch (its index counted from the epoch's start), once the loop yielded and every job
   * callback handled it: training waits while it runs (paused by its worker), and `snapshot(…, epoch,
   * batch + 1)` is consistent here.
   */
  batchEnd?(epoch: number, batch: number): Promise<void> | undefined;
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
  private batchesSinceSample = 0;
  private lastSampleAt = performance.now();

  constructor(
    private readonly hooks: TrainHooks,
    private readonly sampling: MetricsSampling,
    private epoch: number,
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
  lastEpoch: number | null = null;
  /** Where a job callback (EarlyStopping, a Rule) set stopTraining. */
  stoppedByCallback: { epoch: number; batch?: number } | null = null;
  cancelledAt: { epoch: number; batch?: number } | null = null;
  /** The last batch that ran: a cancel seen at epoch end stopped training right after it. */
  private lastBatch: number | undefined;

  constructor(
    private readonly hooks: TrainHooks,
    private readonly signal: AbortSignal | undefined,
    private epoch: number,
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
    await this.hooks.batchEnd?.(this.epoch, batch);
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

/**
 * The epoch's running metric sums, kept as tfjs's BaseLogger keeps them (float32 tensors: value × batch
 * size, added batch by batch), whose means it writes over BaseLogger's at the epoch end. BaseLogger starts
 * afresh in every fit call; these sums can start from a snapshot's, so an epoch resumed in its middle ends
 * with the logs an uninterrupted one would have, to the last bit.
 */
class EpochTotals extends Callback {
  private seen = 0;
  private readonly sums = new Map<string, Scalar>();

  constructor(private readonly tf: Tf) {
    super();
  }

  restore(state: EpochTotalsState): void {
    this.clear();
    this.seen = state.seen;
    for (const [key, sum] of Object.entries(state.sums)) this.sums.set(key, this.tf.scalar(sum, "float32"));
  }

  async read(): Promise<EpochTotalsState> {
    const sums: Record<string, number> = {};
    for (const [key, sum] of this.sums) sums[key] = (await sum.data())[0];
    return { seen: this.seen, sums };
  }

  override async onEpochBegin(): Promise<void> {
    this.clear();
  }

  override async onBatchEnd(_batch: number, logs?: UnresolvedLogs): Promise<void> {
    const size = (logs?.size as number | undefined) ?? 0;
    this.seen += size;
    for (const [key, value] of Object.entries(logs ?? {})) {
      if (key === "batch" || key === "size") continue;
      const previous = this.sums.get(key);
      this.sums.set(
        key,
        this.tf.tidy(() => this.tf.add(previous ?? 0, this.tf.mul(value as Scalar, size)) as Scalar),
      );
      previous?.dispose();
    }
  }

  override async onEpochEnd(_epoch: number, logs?: UnresolvedLogs): Promise<void> {
    if (!logs) return;
    for (const key of (this.params.metrics as string[] | undefined) ?? []) {
      const sum = this.sums.get(key);
      if (!sum) continue;
      // BaseLogger's own formula; its tensor, which only it has seen, is replaced.
      const replaced = logs[key];
      logs[key] = this.tf.tidy(() => this.tf.mul(this.tf.div(1, this.seen), sum) as Scalar);
      if (replaced instanceof this.tf.Tensor) replaced.dispose();
    }
    this.clear();
  }

  clear(): void {
    for (const sum of this.sums.values()) sum.dispose();
    this.sums.clear();
    this.seen = 0;
  }
}

/** Where a run resumed inside an epoch continues: that epoch, the batches of it already trained, the run's epochs. */
interface Resumption {
  epoch: number;
  batch: number;
  epochs: number;
}

/** Whether a run resumed inside an epoch goes on after that epoch, once the fit of its rest returned. */
function continuesAfter(model: LayersModel, at: Resumption): boolean {
  return !model.stopTraining && at.epoch + 1 < at.epochs;
}

/**
 * One callback's view of a run resumed inside an epoch. That run takes two fit calls — the rest of the
 * epoch, then the epochs after it — and each callback sees them as the one run they continue: train begin
 * once, no second begin of the resumed epoch (a LearningRateScheduler would step twice), batch indices
 * counted from the epoch's start, and train end only where the run ends.
 */
class Stitched extends Callback {
  private begun = false;
  private epoch: number;

  constructor(
    private readonly inner: Callback,
    private readonly at: Resumption,
  ) {
    super();
    this.epoch = at.epoch;
  }

  override setParams(params: Record<string, unknown>): void {
    super.setParams(params as never);
    this.inner.setParams({ ...params, epochs: this.at.epochs } as never);
  }

  override setModel(model: LayersModel): void {
    super.setModel(model);
    this.inner.setModel(model);
  }

  override async onTrainBegin(logs?: UnresolvedLogs): Promise<void> {
    if (this.begun) return;
    this.begun = true;
    await this.inner.onTrainBegin(logs);
  }

  override async onEpochBegin(epoch: number, logs?: UnresolvedLogs): Promise<void> {
    this.epoch = epoch;
    if (epoch !== this.at.epoch) await this.inner.onEpochBegin(epoch, logs);
  }

  override async onBatchBegin(batch: number, logs?: UnresolvedLogs): Promise<void> {
    await this.inner.onBatchBegin(this.shifted(batch), logs);
  }

  override async onBatchEnd(batch: number, logs?: UnresolvedLogs): Promise<void> {
    await this.inner.onBatchEnd(this.shifted(batch), logs);
  }

  override async onEpochEnd(epoch: number, logs?: UnresolvedLogs): Promise<void> {
    await this.inner.onEpochEnd(epoch, logs);
  }

  override async onTrainEnd(logs?: UnresolvedLogs): Promise<void> {
    if (this.epoch === this.at.epoch && continuesAfter(this.model, this.at)) return;
    await this.inner.onTrainEnd(logs);
  }

  private shifted(batch: number): number {
    return this.epoch === this.at.epoch ? batch + this.at.batch : batch;
  }
}

/** Where fit splits `validation_split` off: the rows before it are trained on (tfjs's own formula). */
function trainingRows(data: Dataset, args: ModelFitArgs): number {
  const rows = data.y.shape[0];
  return args.validationSplit ? Math.floor(rows * (1 - args.validationSplit)) : rows;
}

/** The dataset's rows at `indices`, then (`keepTail`) every row from `indices.length` on, unmoved. */
function rowsAt(tf: Tf, data: Dataset, indices: Int32Array, keepTail: boolean): Dataset {
  const move = (t: Tensor) =>
    tf.tidy(() => {
      const head = tf.gather(t, tf.tensor1d(indices, "int32"));
      return keepTail && indices.length < t.shape[0] ? tf.concat([head, t.slice(indices.length)]) : head;
    });
  return mapRows(tf, data, move);
}

function mapRows(tf: Tf, data: Dataset, f: (t: Tensor) => Tensor): Dataset {
  const x = data.x;
  const movedX =
    x instanceof tf.Tensor
      ? f(x)
      : Object.fromEntries(Object.entries(x as NamedTensorMap).map(([name, t]) => [name, f(t)]));
  return { ...data, x: movedX, y: f(data.y) };
}

function disposeRows(tf: Tf, data: Dataset): void {
  tf.dispose([data.y, ...(data.x instanceof tf.Tensor ? [data.x] : Object.values(data.x))]);
}

function isTerminateOnNaN(callback: KerasCallback): callback is TerminateOnNaN {
  return callback.type === "TerminateOnNaN";
}

/** What `snapshot` reads of a model in training besides the model: its rows' order and the epoch's totals. */
const inTraining = new WeakMap<LayersModel, { shuffle: ShuffleOrder | null; totals: EpochTotals }>();

/** Trains `model` with the job's callbacks and reports why it stopped. */
export async function train(options: TrainOptions): Promise<TrainOutcome> {
  const { tf, model, callbacks, signal, initialState, random, args } = options;
  const hooks = options.hooks ?? {};
  if (initialState) await restore(tf, model, callbacks, initialState);
  const startEpoch = initialState?.epoch ?? args.initialEpoch ?? 0;
  const tap = new MetricsTap(hooks, options.sampling ?? { every: 1, intervalMs: 0 }, startEpoch);
  const control = new LoopControl(hooks, signal, startEpoch);
  const totals = new EpochTotals(tf);
  const rows = trainingRows(options.data, args);
  const shuffle =
    random && args.shuffle !== false
      ? new ShuffleOrder(tf, random, initialState?.order ?? Int32Array.from({ length: rows }, (_, i) => i))
      : null;
  inTraining.set(model, { shuffle, totals });
  const ours = [totals, tap, ...callbacks, control];
  let history: History;
  try {
    if (initialState?.batch) {
      const at = { epoch: initialState.epoch, batch: initialState.batch, epochs: args.epochs ?? 1 };
      if (initialState.totals) totals.restore(initialState.totals);
      const stitched = ours.map((callback) => new Stitched(callback, at));
      history = await fitRestOfEpoch(tf, model, options.data, args, at, shuffle?.order ?? null, stitched);
      if (continuesAfter(model, at)) {
        history = await fitEpochs(tf, model, options.data, args, shuffle, at.epoch + 1, stitched);
      }
    } else {
      history = await fitEpochs(tf, model, options.data, args, shuffle, startEpoch, ours);
    }
  } finally {
    inTraining.delete(model);
    totals.clear();
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

/**
 * Fit from `initialEpoch` to the end. A resumed run's rows are put in the order its shuffling had left
 * them: fit starts from rows 0…n-1 and shuffles them with the same swaps the mirror makes.
 */
async function fitEpochs(
  tf: Tf,
  model: LayersModel,
  data: Dataset,
  args: ModelFitArgs,
  shuffle: ShuffleOrder | null,
  initialEpoch: number,
  callbacks: Callback[],
): Promise<History> {
  const identity = shuffle?.order.every((row, i) => row === i) ?? true;
  const ordered = identity ? data : rowsAt(tf, data, shuffle!.order, true);
  try {
    return await model.fit(ordered.x, ordered.y, {
      ...args,
      initialEpoch,
      callbacks: [...(shuffle ? [shuffle] : []), ...callbacks],
    });
  } finally {
    if (ordered !== data) disposeRows(tf, ordered);
  }
}

/**
 * The batches of the resumed epoch not yet trained: the rows those batches would have taken, in the order
 * the epoch had shuffled them to, unshuffled, in batches of the same size — so the same batches. The
 * validation rows are handed over as validation data, which fit evaluates as it does a split.
 */
async function fitRestOfEpoch(
  tf: Tf,
  model: LayersModel,
  data: Dataset,
  args: ModelFitArgs,
  at: Resumption,
  order: Int32Array | null,
  callbacks: Callback[],
): Promise<History> {
  const rows = trainingRows(data, args);
  const done = at.batch * (args.batchSize ?? 32);
  const rest = (order ?? Int32Array.from({ length: rows }, (_, i) => i)).slice(done);
  const train = rowsAt(tf, data, rest, false);
  const validation = args.validationSplit ? mapRows(tf, data, (t) => t.slice(rows)) : null;
  try {
    return await model.fit(train.x, train.y, {
      ...args,
      // Inputs by name work for validation data as for x, though tfjs's type lists only tensors.
      ...(validation && {
        validationSplit: undefined,
        validationData: [validation.x as Tensor, validation.y] as [Tensor, Tensor],
      }),
      shuffle: false,
      initialEpoch: at.epoch,
      epochs: at.epoch + 1,
      callbacks,
    });
  } finally {
    disposeRows(tf, train);
    if (validation) disposeRows(tf, validation);
  }
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
 * The state after `epoch` epochs (call it from `hooks.epochEnd(epoch - 1)` or after `train`), or after
 * `batch` batches of epoch `epoch` (from `hooks.batchEnd(epoch, batch - 1)`): weights, optimizer slots,
 * learning rate, every callback's state, the rows' order and the epoch's running totals.
 */
export async function snapshot(
  model: LayersModel,
  callbacks: KerasCallback[],
  epoch: number,
  batch = 0,
): Promise<TrainingState> {
  const weights = await Promise.all(model.weights.map((w) => readTensor(w.originalName, w.read())));
  const slots = await model.optimizer.getWeights();
  const optimizer = await Promise.all(slots.map((slot) => readTensor(slot.name, slot.tensor)));
  // getWeights makes a fresh scalar for the iteration count; the other slots are the optimizer's own.
  for (const slot of slots) if (slot.name === "iter") slot.tensor.dispose();
  const training = inTraining.get(model);
  const order = training?.shuffle?.order;
  const totals = batch > 0 && training ? await training.totals.read() : undefined;
  return {
    epoch,
    ...(batch > 0 && { batch, totals }),
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
