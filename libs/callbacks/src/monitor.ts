/** Which way a monitored quantity should move, resolved the way Keras 3 does it. No tfjs here: the API uses it. */
export type Mode = "auto" | "min" | "max";
export type Direction = "min" | "max";

// Keras 3 asks each compiled metric for its `_direction`; a tfjs model has no such field, so the
// directions of every Keras metric name (and of the camelCase names tfjs logs) are listed here.
const MAXIMIZED = new Set([
  "acc",
  "accuracy",
  "binary_accuracy",
  "binaryAccuracy",
  "categorical_accuracy",
  "categoricalAccuracy",
  "sparse_categorical_accuracy",
  "sparseCategoricalAccuracy",
  "top_k_categorical_accuracy",
  "topKCategoricalAccuracy",
  "sparse_top_k_categorical_accuracy",
  "sparseTopKCategoricalAccuracy",
  "auc",
  "prc",
  "precision",
  "recall",
  "f1_score",
  "fbeta_score",
  "r2_score",
  "r2Score",
  "iou",
  "mean_iou",
  "binary_iou",
  "one_hot_iou",
  "one_hot_mean_iou",
  "cosine_similarity",
  "precision_at_recall",
  "recall_at_precision",
  "sensitivity_at_specificity",
  "specificity_at_sensitivity",
  "true_positives",
  "true_negatives",
]);

const MINIMIZED = new Set([
  "loss",
  "mse",
  "MSE",
  "mae",
  "MAE",
  "mape",
  "MAPE",
  "msle",
  "mean_squared_error",
  "meanSquaredError",
  "mean_absolute_error",
  "meanAbsoluteError",
  "mean_absolute_percentage_error",
  "meanAbsolutePercentageError",
  "mean_squared_logarithmic_error",
  "meanSquaredLogarithmicError",
  "root_mean_squared_error",
  "hinge",
  "squared_hinge",
  "squaredHinge",
  "categorical_hinge",
  "categoricalHinge",
  "ce",
  "binary_crossentropy",
  "binaryCrossentropy",
  "categorical_crossentropy",
  "categoricalCrossentropy",
  "sparse_categorical_crossentropy",
  "sparseCategoricalCrossentropy",
  "binary_focal_crossentropy",
  "categorical_focal_crossentropy",
  "kl_divergence",
  "kld",
  "kullback_leibler_divergence",
  "kullbackLeiblerDivergence",
  "poisson",
  "logcosh",
  "log_cosh",
  "huber",
  "false_positives",
  "false_negatives",
  // tfjs's `cosine` metric is cosine *proximity*, the negated similarity, so lower is better.
  "cosine",
  "cosineProximity",
]);

/** `min`/`max` as given, or the direction Keras 3's mode='auto' infers; throws when it cannot tell. */
export function resolveDirection(monitor: string, mode: Mode): Direction {
  if (mode !== "auto") return mode;
  const name = monitor.startsWith("val_") ? monitor.slice(4) : monitor;
  if (MINIMIZED.has(name)) return "min";
  if (MAXIMIZED.has(name)) return "max";
  throw new Error(
    `cannot tell whether monitor '${monitor}' should be minimized or maximized; ` +
      `pass mode: "min" or mode: "max"`,
  );
}

/** tfjs logs `acc` where Keras logs `accuracy`: either name finds the other. */
export function readMonitor(logs: Record<string, number>, monitor: string): number | undefined {
  if (monitor in logs) return logs[monitor];
  const prefix = monitor.startsWith("val_") ? "val_" : "";
  const name = monitor.slice(prefix.length);
  const alias = name === "acc" ? "accuracy" : name === "accuracy" ? "acc" : undefined;
  return alias === undefined ? undefined : logs[prefix + alias];
}

/** Keras's MonitorCallback comparison: `op(current - min_delta, reference)`, min_delta negated in min mode. */
export class Improvement {
  readonly direction: Direction;
  private readonly minDelta: number;

  constructor(monitor: string, mode: Mode, minDelta = 0) {
    this.direction = resolveDirection(monitor, mode);
    this.minDelta = this.direction === "min" ? -Math.abs(minDelta) : Math.abs(minDelta);
  }

  /** A null reference (no best yet) is always improved upon, as in Keras. */
  isImprovement(current: number, reference: number | null): boolean {
    if (reference === null) return true;
    const shifted = current - this.minDelta;
    return this.direction === "min" ? shifted < reference : shifted > reference;
  }
}

/** The logs with `acc`/`accuracy` (and `val_` forms) both present, for filepath templates. */
export function withAccuracyAliases(logs: Record<string, number>): Record<string, number> {
  const out = { ...logs };
  for (const prefix of ["", "val_"]) {
    for (const [a, b] of [
      ["acc", "accuracy"],
      ["accuracy", "acc"],
    ]) {
      if (prefix + a in logs && !(prefix + b in out)) out[prefix + b] = logs[prefix + a];
    }
  }
  return out;
}
