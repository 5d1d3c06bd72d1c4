import type { LayersModel, ModelFitArgs, Tensor } from "@tensorflow/tfjs";
import type { Tf } from "./backend";

/**
 * Keras metrics tfjs gets wrong or logs under other names, written in tfjs ops (no device sync per batch)
 * and logged under Keras's names.
 *
 * `binary_accuracy` and `top_k_categorical_accuracy` are means over samples, so tfjs's epoch value (the
 * batch values averaged, weighted by batch size) is Keras's. `precision` and `recall` are not: Keras
 * counts true/false positives over the whole epoch and divides once, and `auc` counts them at 200
 * thresholds. Each of them is a {@link CountedMetric} whose function returns the batch's value (the batch
 * logs) and keeps the batch's counts; the callback `compileModel` puts first in every `model.fit` then
 * overwrites `precision` and `val_precision` at epoch end with the value of the epoch's counts, training and
 * validation counted apart.
 */

export type MetricFn = (yTrue: Tensor, yPred: Tensor) => Tensor;

/** Keras's default threshold for binary_accuracy, precision and recall. */
export const THRESHOLD = 0.5;
/** Keras's default k for top_k_categorical_accuracy. */
export const TOP_K = 5;

/** tfjs logs a metric function under its `name`. */
function named(name: string, fn: MetricFn): MetricFn {
  Object.defineProperty(fn, "name", { value: name });
  return fn;
}

type Phase = "train" | "val";

/**
 * A Keras confusion-count metric: counts summed over the epoch, and a value computed from counts (of a
 * batch for the batch logs, of the epoch for the epoch logs). Training calls run under tfjs's gradient tape
 * and validation calls do not: that is how the counts are told apart, without a hook between tfjs's last
 * training batch and its validation pass.
 */
export class CountedMetric {
  readonly fn: MetricFn;
  private recording = false;
  private readonly parts: Record<Phase, Tensor[]> = { train: [], val: [] };

  constructor(
    private readonly tf: Tf,
    readonly key: string,
    /** This batch's counts, a float32 tensor of a fixed shape. */
    counts: (tf: Tf, yTrue: Tensor, yPred: Tensor) => Tensor,
    /** The metric of some counts, a scalar, in tfjs ops. */
    private readonly value: (tf: Tf, counts: Tensor) => Tensor,
  ) {
    this.fn = named(key, (yTrue, yPred) => {
      const batch = counts(tf, yTrue, yPred);
      if (this.recording) this.parts[tf.engine().isTapeOn() ? "train" : "val"].push(tf.keep(batch));
      return value(tf, batch);
    });
  }

  /** Start counting (fit begins) or stop (fit ends); either way the counts start from zero. */
  record(on: boolean): void {
    this.recording = on;
    this.reset();
  }

  reset(): void {
    for (const phase of ["train", "val"] as const) {
      for (const tensor of this.parts[phase]) tensor.dispose();
      this.parts[phase] = [];
    }
  }

  /** Sums the counts kept so far into one tensor (after a batch, outside the gradient tape). */
  compact(): void {
    for (const phase of ["train", "val"] as const) {
      const parts = this.parts[phase];
      if (parts.length < 2) continue;
      this.parts[phase] = [this.tf.addN(parts)];
      for (const tensor of parts) tensor.dispose();
    }
  }

  /** The epoch's value for one phase, or undefined when that phase counted nothing. */
  async result(phase: Phase): Promise<number | undefined> {
    const parts = this.parts[phase];
    if (parts.length === 0) return undefined;
    const value = this.tf.tidy(() => this.value(this.tf, this.tf.addN(parts)));
    const [result] = await value.data();
    value.dispose();
    return result;
  }
}

/** Keras's positives: a label is positive when non-zero, a prediction when above the threshold. */
function confusion(tf: Tf, yTrue: Tensor, yPred: Tensor) {
  const actual = tf.notEqual(yTrue, 0);
  const predicted = tf.greater(yPred, THRESHOLD);
  const count = (mask: Tensor) => tf.sum(tf.cast(mask, "float32"));
  const tp = count(tf.logicalAnd(actual, predicted));
  return { tp, predicted: count(predicted), actual: count(actual) };
}

/** counts = [numerator, denominator]; 0 when the denominator is 0, as Keras's `divide_no_nan`. */
function ratio(tf: Tf, counts: Tensor): Tensor {
  const [num, den] = tf.split(counts, 2);
  return tf.reshape(tf.divNoNan(num, den), []);
}

/** tp over one count of the confusion matrix, accumulated over the epoch. */
function truePositivesOver(tf: Tf, name: string, of: "predicted" | "actual"): CountedMetric {
  const counts = (tf: Tf, yTrue: Tensor, yPred: Tensor) =>
    tf.tidy(() => {
      const matrix = confusion(tf, yTrue, yPred);
      return tf.stack([matrix.tp, matrix[of]]);
    });
  return new CountedMetric(tf, name, counts, ratio);
}

/** tp / (tp + fp): predicted positives are tp + fp. */
export const precision = (tf: Tf): CountedMetric => truePositivesOver(tf, "precision", "predicted");

/** tp / (tp + fn): actual positives are tp + fn. */
export const recall = (tf: Tf): CountedMetric => truePositivesOver(tf, "recall", "actual");

/** Keras's AUC default: 200 thresholds, evenly spaced, with endpoints just below 0 and just above 1. */
export const AUC_THRESHOLDS = 200;
const EPSILON = 1e-7;
export function aucThresholds(n = AUC_THRESHOLDS): number[] {
  const inner = Array.from({ length: n - 2 }, (_, i) => (i + 1) / (n - 1));
  return [-EPSILON, ...inner, 1 + EPSILON];
}

/**
 * Keras's AUC (ROC curve, "interpolation" summation, multi_label false): tp, fp, fn, tn at each threshold
 * over every element (prediction above the threshold, label non-zero), then the trapezoids under
 * (false positive rate, recall) from threshold to threshold.
 */
export function auc(tf: Tf): CountedMetric {
  const thresholds = aucThresholds();
  const counts = (tf: Tf, yTrue: Tensor, yPred: Tensor) =>
    tf.tidy(() => {
      const above = tf.cast(tf.greater(tf.reshape(yPred, [-1, 1]), tf.tensor1d(thresholds)), "float32");
      const below = tf.sub(1, above);
      const positive = tf.cast(tf.notEqual(tf.reshape(yTrue, [-1, 1]), 0), "float32");
      const negative = tf.sub(1, positive);
      const count = (a: Tensor, b: Tensor) => tf.sum(tf.mul(a, b), 0);
      return tf.stack([
        count(above, positive),
        count(above, negative),
        count(below, positive),
        count(below, negative),
      ]);
    });
  const value = (tf: Tf, counts: Tensor) =>
    tf.tidy(() => {
      const [tp, fp, fn, tn] = tf.unstack(counts);
      const n = thresholds.length;
      const y = tf.divNoNan(tp, tf.add(tp, fn));
      const x = tf.divNoNan(fp, tf.add(fp, tn));
      const heights = tf.div(tf.add(y.slice(0, n - 1), y.slice(1)), 2);
      return tf.sum(tf.mul(tf.sub(x.slice(0, n - 1), x.slice(1)), heights));
    });
  return new CountedMetric(tf, "auc", counts, value);
}

/** Keras's binary_accuracy: 1 where (y_pred > 0.5) equals y_true, averaged over the last axis. */
export function binaryAccuracy(tf: Tf): MetricFn {
  return named("binary_accuracy", (yTrue, yPred) =>
    tf.tidy(() =>
      tf.mean(tf.cast(tf.equal(yTrue, tf.cast(tf.greater(yPred, THRESHOLD), yTrue.dtype)), "float32"), -1),
    ),
  );
}

/**
 * Keras's top_k_categorical_accuracy (k = 5): the true class (argmax of the one-hot label) is in the top k
 * predictions. As TensorFlow's `in_top_k`, classes tied with the k-th are in: the true class is in when
 * fewer than k classes score strictly higher.
 */
export function topKCategoricalAccuracy(tf: Tf, k = TOP_K): MetricFn {
  return named("top_k_categorical_accuracy", (yTrue, yPred) =>
    tf.tidy(() => {
      const classes = yPred.shape[yPred.shape.length - 1] as number;
      const pred = tf.reshape(yPred, [-1, classes]);
      const target = tf.argMax(tf.reshape(yTrue, [-1, classes]), -1);
      const targetScore = tf.sum(tf.mul(tf.oneHot(target, classes), pred), -1, true);
      const higher = tf.sum(tf.cast(tf.greater(pred, targetScore), "float32"), -1);
      return tf.reshape(tf.cast(tf.less(higher, k), "float32"), yPred.shape.slice(0, -1));
    }),
  );
}

/** Overwrites the epoch logs of the counted metrics with their epoch values. */
function epochCallback(tf: Tf, metrics: readonly CountedMetric[]) {
  return new (class extends tf.Callback {
    override async onTrainBegin() {
      for (const metric of metrics) metric.record(true);
    }
    override async onEpochBegin() {
      for (const metric of metrics) metric.reset();
    }
    override async onBatchEnd() {
      for (const metric of metrics) metric.compact();
    }
    override async onEpochEnd(_epoch: number, logs?: Record<string, unknown>) {
      if (!logs) return;
      for (const metric of metrics) {
        for (const [phase, key] of [
          ["train", metric.key],
          ["val", `val_${metric.key}`],
        ] as const) {
          if (!(key in logs)) continue;
          const value = await metric.result(phase);
          if (value === undefined) continue;
          const old = logs[key];
          if (typeof old === "object" && old !== null && "dispose" in old) (old as Tensor).dispose();
          logs[key] = value;
        }
      }
    }
    override async onTrainEnd() {
      for (const metric of metrics) metric.record(false);
    }
  })();
}

const EPOCH_METRICS = Symbol("plateau.epochMetrics");
type WithEpochMetrics = LayersModel & { [EPOCH_METRICS]?: readonly CountedMetric[] };

/**
 * Makes every `model.fit` of this model run the epoch callback of `metrics` first (before the caller's
 * callbacks, so monitors see Keras's epoch values). A later compile replaces the metrics.
 */
export function attachEpochMetrics(tf: Tf, model: LayersModel, metrics: readonly CountedMetric[]): void {
  const holder = model as WithEpochMetrics;
  const wrapped = holder[EPOCH_METRICS] !== undefined;
  holder[EPOCH_METRICS] = metrics;
  if (wrapped) return;
  const fit = model.fit.bind(model);
  model.fit = (x, y, args: ModelFitArgs = {}) => {
    const current = holder[EPOCH_METRICS] ?? [];
    if (current.length === 0) return fit(x, y, args);
    const given = args.callbacks === undefined ? [] : [args.callbacks].flat();
    const callbacks = given.map((callback) =>
      "setParams" in callback ? callback : new tf.CustomCallback(callback, args.yieldEvery),
    );
    return fit(x, y, { ...args, callbacks: [epochCallback(tf, current), ...callbacks] });
  };
}
