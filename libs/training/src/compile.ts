import {
  type CompileSpec,
  type Issue,
  isMetricName,
  isOptimizerName,
  type LossName,
  type MetricName,
  OPTIMIZER_DEFAULTS,
  type OptimizerName,
} from "@plateau/contract";
import type { LayersModel, Optimizer, Tensor } from "@tensorflow/tfjs";
import { kerasAdadelta } from "./adadelta";
import type { Tf } from "./backend";
import { isObject } from "./keras-config";
import { buildLossClass, parseLoss, TFJS_TWINS } from "./losses";
import {
  attachEpochMetrics,
  auc,
  binaryAccuracy,
  CountedMetric,
  type MetricFn,
  precision,
  recall,
  topKCategoricalAccuracy,
} from "./metrics";
import { throwIfIssues } from "./spec-error";

/**
 * Options tfjs cannot honour, accepted only at the value that means "off": Keras's common optimizer
 * arguments, AMSGrad, and an Adagrad epsilon other than the backend's fixed 1e-7.
 */
const ONLY_VALUE: Readonly<Record<string, number | boolean | null>> = {
  weight_decay: null,
  clipnorm: null,
  clipvalue: null,
  global_clipnorm: null,
  use_ema: false,
  amsgrad: false,
};

type Params = Record<string, number | boolean>;

const BUILDERS: Record<OptimizerName, (tf: Tf, p: Params) => Optimizer> = {
  sgd: (tf, p) =>
    (p.momentum as number) > 0
      ? tf.train.momentum(p.learning_rate as number, p.momentum as number, p.nesterov as boolean)
      : tf.train.sgd(p.learning_rate as number),
  momentum: (tf, p) =>
    tf.train.momentum(p.learning_rate as number, p.momentum as number, p.nesterov as boolean),
  adam: (tf, p) =>
    tf.train.adam(p.learning_rate as number, p.beta_1 as number, p.beta_2 as number, p.epsilon as number),
  adamax: (tf, p) =>
    tf.train.adamax(p.learning_rate as number, p.beta_1 as number, p.beta_2 as number, p.epsilon as number),
  rmsprop: (tf, p) =>
    tf.train.rmsprop(
      p.learning_rate as number,
      p.rho as number,
      p.momentum as number,
      p.epsilon as number,
      p.centered as boolean,
    ),
  adagrad: (tf, p) => tf.train.adagrad(p.learning_rate as number, p.initial_accumulator_value as number),
  adadelta: (tf, p) => kerasAdadelta(tf, p.learning_rate as number, p.rho as number, p.epsilon as number),
};

/** Keras loss names (and aliases) → tfjs loss identifiers. */
export const LOSSES: Readonly<Record<LossName, string>> = {
  sparse_categorical_crossentropy: "sparseCategoricalCrossentropy",
  categorical_crossentropy: "categoricalCrossentropy",
  binary_crossentropy: "binaryCrossentropy",
  mean_squared_error: "meanSquaredError",
  mse: "meanSquaredError",
  mean_absolute_error: "meanAbsoluteError",
  mae: "meanAbsoluteError",
  mean_absolute_percentage_error: "meanAbsolutePercentageError",
  mape: "meanAbsolutePercentageError",
  mean_squared_logarithmic_error: "meanSquaredLogarithmicError",
  msle: "meanSquaredLogarithmicError",
  hinge: "hinge",
  squared_hinge: "squaredHinge",
  categorical_hinge: "categoricalHinge",
  log_cosh: "logcosh",
  logcosh: "logcosh",
  kl_divergence: "kullbackLeiblerDivergence",
  kullback_leibler_divergence: "kullbackLeiblerDivergence",
  kld: "kullbackLeiblerDivergence",
  poisson: "poisson",
  cosine_similarity: "cosineProximity",
  // tfjs has no Huber loss identifier: losses.ts computes Keras's (delta 1) as the class Huber.
  huber: "huber",
};

/**
 * Keras's hinge losses read 0/1 labels as -1/1 when every label in the batch is 0 or 1; tfjs's use the
 * labels as given, so these two are Keras's formula written in tfjs ops (no device sync).
 */
function kerasHinge(tf: Tf, squared: boolean) {
  return (yTrue: Tensor, yPred: Tensor): Tensor =>
    tf.tidy(() => {
      const binary = tf.all(tf.logicalOr(tf.equal(yTrue, 0), tf.equal(yTrue, 1)));
      const labels = tf.where(tf.broadcastTo(binary, yTrue.shape), tf.sub(tf.mul(yTrue, 2), 1), yTrue);
      const margin = tf.relu(tf.sub(1, tf.mul(labels, yPred)));
      return tf.mean(squared ? tf.square(margin) : margin, -1);
    });
}

const LOSS_FUNCTIONS: Readonly<Record<string, (tf: Tf) => (yTrue: Tensor, yPred: Tensor) => Tensor>> = {
  hinge: (tf) => kerasHinge(tf, false),
  squared_hinge: (tf) => kerasHinge(tf, true),
};

/** Metrics written here in tfjs ops with Keras's semantics (metrics.ts), logged under Keras's names. */
const KERAS_METRICS = {
  auc: (tf: Tf) => auc(tf),
  precision: (tf: Tf) => precision(tf),
  recall: (tf: Tf) => recall(tf),
  binary_accuracy: (tf: Tf) => binaryAccuracy(tf),
  top_k_categorical_accuracy: (tf: Tf) => topKCategoricalAccuracy(tf),
} satisfies Record<string, (tf: Tf) => MetricFn | CountedMetric>;

interface MetricRule {
  /** What tfjs compiles: a string identifier it knows, or the name of a `tf.metrics` function. */
  tfjs?: string;
  /** Or one of Plateau's own metrics. */
  keras?: keyof typeof KERAS_METRICS;
  fn?: boolean;
  /** The key tfjs writes the value under in epoch logs. */
  logKey: string;
}

/**
 * Keras metric names → tfjs. tfjs logs accuracy as `acc` whatever the spelling, and other metrics under
 * the identifier it was given (a function under its name), which is what callbacks must monitor.
 * Plateau's own metrics are logged under their Keras names.
 */
export const METRICS: Readonly<Record<MetricName, MetricRule>> = {
  accuracy: { tfjs: "accuracy", logKey: "acc" },
  acc: { tfjs: "accuracy", logKey: "acc" },
  binary_accuracy: { keras: "binary_accuracy", logKey: "binary_accuracy" },
  categorical_accuracy: { tfjs: "categoricalAccuracy", logKey: "categoricalAccuracy" },
  sparse_categorical_accuracy: {
    tfjs: "sparseCategoricalAccuracy",
    fn: true,
    logKey: "sparseCategoricalAccuracy",
  },
  // tfjs's precision and recall count y_pred == 1 (always 0 for a sigmoid); Keras's threshold at 0.5.
  precision: { keras: "precision", logKey: "precision" },
  recall: { keras: "recall", logKey: "recall" },
  mse: { tfjs: "mse", logKey: "mse" },
  mean_squared_error: { tfjs: "mse", logKey: "mse" },
  mae: { tfjs: "mae", logKey: "mae" },
  mean_absolute_error: { tfjs: "mae", logKey: "mae" },
  mape: { tfjs: "mape", logKey: "mape" },
  mean_absolute_percentage_error: { tfjs: "mape", logKey: "mape" },
  binary_crossentropy: { tfjs: "binaryCrossentropy", fn: true, logKey: "binaryCrossentropy" },
  categorical_crossentropy: { tfjs: "categoricalCrossentropy", logKey: "categoricalCrossentropy" },
  sparse_categorical_crossentropy: {
    tfjs: "sparseCategoricalCrossentropy",
    logKey: "sparseCategoricalCrossentropy",
  },
  r2_score: { tfjs: "r2Score", fn: true, logKey: "r2Score" },
  top_k_categorical_accuracy: { keras: "top_k_categorical_accuracy", logKey: "top_k_categorical_accuracy" },
  auc: { keras: "auc", logKey: "auc" },
};

function optimizerParts(spec: unknown): { name: unknown; params: Record<string, unknown> } {
  if (typeof spec === "string") return { name: spec, params: {} };
  if (!isObject(spec)) return { name: undefined, params: {} };
  const { name, ...params } = spec;
  return { name, params };
}

/** Keras optimizer spec → the full parameter set (defaults filled), or issues. */
function optimizerParams(spec: unknown, path: string, issues: Issue[]): Params | null {
  const { name, params } = optimizerParts(spec);
  if (!isOptimizerName(name)) {
    issues.push({
      path: typeof spec === "string" ? path : `${path}/name`,
      message: `unsupported optimizer ${JSON.stringify(name)}; supported: ${Object.keys(OPTIMIZER_DEFAULTS).join(", ")}`,
    });
    return null;
  }
  const defaults = OPTIMIZER_DEFAULTS[name];
  const out: Params = { ...defaults };
  for (const [key, value] of Object.entries(params)) {
    const at = `${path}/${key}`;
    if (key in ONLY_VALUE && value === ONLY_VALUE[key]) continue;
    if (key in ONLY_VALUE) {
      issues.push({
        path: at,
        message: `${key} = ${JSON.stringify(value)} is not supported by the training backend; leave it out`,
      });
    } else if (!(key in defaults)) {
      issues.push({
        path: at,
        message: `unknown parameter "${key}" for ${name}; supported: ${Object.keys(defaults).join(", ")}`,
      });
    } else if (typeof value !== typeof defaults[key]) {
      issues.push({ path: at, message: `must be a ${typeof defaults[key]}` });
    } else if (typeof value === "number" && (!Number.isFinite(value) || value < 0)) {
      issues.push({ path: at, message: "must be a finite number ≥ 0" });
    } else {
      out[key] = value as number | boolean;
    }
  }
  if ((out.learning_rate as number) <= 0)
    issues.push({ path: `${path}/learning_rate`, message: "must be > 0" });
  if (name === "adagrad" && out.epsilon !== defaults.epsilon) {
    issues.push({
      path: `${path}/epsilon`,
      message: "tfjs's adagrad has a fixed epsilon of 1e-7; leave it out",
    });
  }
  return out;
}

function metricsOf(spec: unknown, path: string, issues: Issue[]): MetricRule[] {
  if (spec === undefined) return [];
  if (!Array.isArray(spec)) {
    issues.push({ path, message: "must be a list of metric names" });
    return [];
  }
  const seen = new Map<string, string>();
  const rules: MetricRule[] = [];
  spec.forEach((name, i) => {
    const rule = isMetricName(name) ? METRICS[name] : undefined;
    if (!rule) {
      issues.push({
        path: `${path}/${i}`,
        message: `unsupported metric ${JSON.stringify(name)}; supported: ${Object.keys(METRICS).join(", ")}`,
      });
    } else if (seen.has(rule.logKey)) {
      issues.push({ path: `${path}/${i}`, message: `"${name}" repeats "${seen.get(rule.logKey)}"` });
    } else {
      seen.set(rule.logKey, name as string);
      rules.push(rule);
    }
  });
  return rules;
}

/** Every problem in a compile spec (optimizer, loss, metrics), without loading tfjs. */
export function checkCompile(spec: unknown, path = "/compile"): Issue[] {
  const issues: Issue[] = [];
  if (!isObject(spec)) return [{ path, message: "must be an object with optimizer, loss and metrics" }];
  optimizerParams(spec.optimizer, `${path}/optimizer`, issues);
  parseLoss(spec.loss, `${path}/loss`, issues);
  metricsOf(spec.metrics, `${path}/metrics`, issues);
  return issues;
}

/** The tfjs optimizer a Keras optimizer spec describes, with Keras defaults for what it leaves out. */
export function buildOptimizer(
  tf: Tf,
  spec: CompileSpec["optimizer"],
  path = "/compile/optimizer",
): Optimizer {
  const issues: Issue[] = [];
  const params = optimizerParams(spec, path, issues);
  throwIfIssues(issues);
  return BUILDERS[optimizerParts(spec).name as OptimizerName](tf, params as Params);
}

/** Compiles the model as Keras `model.compile(optimizer, loss, metrics)` would. Throws SpecError. */
export function compileModel(tf: Tf, model: LayersModel, spec: CompileSpec, path = "/compile"): void {
  throwIfIssues(checkCompile(spec, path));
  const epochMetrics: CountedMetric[] = [];
  const metrics = metricsOf(spec.metrics, `${path}/metrics`, []).map((rule) => {
    if (rule.keras) {
      const metric = KERAS_METRICS[rule.keras](tf);
      if (metric instanceof CountedMetric) epochMetrics.push(metric);
      return metric instanceof CountedMetric ? metric.fn : metric;
    }
    return rule.fn ? tf.metrics[rule.tfjs as keyof typeof tf.metrics] : rule.tfjs;
  });
  const loss = parseLoss(spec.loss, `${path}/loss`, []);
  const own = loss && "name" in loss ? buildLossClass(tf, loss.name, loss.params) : undefined;
  const twin = loss && "name" in loss ? TFJS_TWINS[loss.name] : undefined;
  model.compile({
    optimizer: buildOptimizer(tf, spec.optimizer, `${path}/optimizer`),
    loss: twin ?? own ?? LOSS_FUNCTIONS[spec.loss as string]?.(tf) ?? LOSSES[spec.loss as LossName],
    metrics: metrics as never,
  });
  // Compiled as tfjs's twin (its target shapes and "accuracy"), computed with Keras's formula.
  // A Sequential compiles (and fits) the LayersModel it wraps.
  const compiled = (model as LayersModel & { model?: LayersModel }).model ?? model;
  if (twin && own) compiled.lossFunctions = compiled.lossFunctions.map(() => own);
  // Keras's precision, recall and auc are epoch counts, not a mean of batch ratios (see metrics.ts).
  attachEpochMetrics(tf, model, epochMetrics);
}

/**
 * The keys tfjs's epoch logs will hold for this compile spec, in tfjs's order ("loss", metrics, then the
 * `val_` twins when there is validation data), so a callback's `monitor` can be checked before training.
 */
export function logKeys(spec: Pick<CompileSpec, "metrics">, hasValidation: boolean): string[] {
  const keys = ["loss", ...metricsOf(spec.metrics, "/compile/metrics", []).map((rule) => rule.logKey)];
  return hasValidation ? [...keys, ...keys.map((key) => `val_${key}`)] : keys;
}
