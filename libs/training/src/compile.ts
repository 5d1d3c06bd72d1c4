import {
  CLIP_ARGS,
  type CompileSpec,
  type Issue,
  isMetricName,
  isOptimizerName,
  LearningRateScheduleSchema,
  type LearningRateScheduleSpec,
  type LossName,
  type MetricName,
  OPTIMIZER_CLASSES,
  OPTIMIZER_COMMON_ARGS,
  OPTIMIZER_DEFAULTS,
  OPTIMIZER_REFUSED_ARGS,
  type OptimizerClassName,
  type OptimizerName,
  SCHEDULE_CLASS_NAMES,
} from "@plateau/contract";
import type { LayersModel, Optimizer, Tensor } from "@tensorflow/tfjs";
import Value from "typebox/value";
import type { Tf } from "./backend";
import { isObject } from "./keras-config";
import {
  type KerasArgs,
  kerasOptimizer,
  SCHEDULE_NOT_SETTABLE,
  type UpdateRule,
  usesKerasArgs,
} from "./keras-optimizer";
import { serializedWrapperIssues } from "./keras-serialized";
import {
  adadeltaRule,
  adagradRule,
  adamaxRule,
  adamRule,
  lionRule,
  nadamRule,
  rmspropRule,
  sgdRule,
} from "./keras-updates";
import { buildLossClass, parseLoss, TFJS_TWINS } from "./losses";
import { buildLearningRateSchedule, isScheduleSpec, learningRateScheduleIssues } from "./lr-schedules";
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

type Params = Record<string, number | boolean | null>;

/** Keras's update rule per optimizer name; `plain` when no common argument asks more of it than tfjs's. */
const RULES: Record<OptimizerName, (p: Params, plain: boolean) => UpdateRule> = {
  sgd: sgdRule,
  momentum: sgdRule,
  adam: (p, plain) => adamRule(p, plain, "Adam"),
  adamw: (p) => adamRule(p, false, "AdamW"),
  adamax: adamaxRule,
  nadam: nadamRule,
  lion: lionRule,
  rmsprop: rmspropRule,
  adagrad: adagradRule,
  adadelta: adadeltaRule,
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

/**
 * An optimizer spec's name, parameters and where they sit: `"adam"`, `{name, ...params}`, or Keras's
 * serialized `{class_name, config}` (its config's `name` is Keras's instance name, not the optimizer).
 */
function optimizerParts(
  spec: unknown,
  path: string,
): { name: unknown; params: Record<string, unknown>; namePath: string; paramsPath: string } {
  if (typeof spec === "string") return { name: spec, params: {}, namePath: path, paramsPath: path };
  if (!isObject(spec)) return { name: undefined, params: {}, namePath: path, paramsPath: path };
  if ("class_name" in spec) {
    const { class_name, config } = spec;
    const known = typeof class_name === "string" && Object.hasOwn(OPTIMIZER_CLASSES, class_name);
    const { name: _instanceName, ...params } = isObject(config) ? config : {};
    return {
      name: known ? OPTIMIZER_CLASSES[class_name as OptimizerClassName] : class_name,
      params,
      namePath: `${path}/class_name`,
      paramsPath: `${path}/config`,
    };
  }
  const { name, ...params } = spec;
  return { name, params, namePath: `${path}/name`, paramsPath: path };
}

interface OptimizerParams {
  name: OptimizerName;
  /** The optimizer's own parameters and Keras's common ones, defaults filled (null: off). */
  params: Params;
  learningRate: number | LearningRateScheduleSpec;
}

/** A problem with one of Keras's base-optimizer arguments, or null. */
function commonArgIssue(key: string, value: unknown): string | null {
  const refused = OPTIMIZER_REFUSED_ARGS[key];
  if (refused) {
    return value === refused.only
      ? null
      : `${key} = ${JSON.stringify(value)} is not supported: ${refused.why}; leave it out (Keras default ${JSON.stringify(refused.only)})`;
  }
  if (value === null) return null;
  return typeof value === "number" && Number.isFinite(value) && value >= 0
    ? null
    : "must be a finite number ≥ 0, or null";
}

/** A problem with `learning_rate` (a number or a Keras schedule object), with its path, or none. */
function learningRateIssues(value: unknown, path: string): Issue[] {
  if (typeof value === "number")
    return value > 0 && Number.isFinite(value) ? [] : [{ path, message: "must be > 0" }];
  if (isScheduleSpec(value) && Value.Check(LearningRateScheduleSchema, value))
    return learningRateScheduleIssues(value, path);
  return [
    {
      path,
      message: `must be a number or a Keras schedule object {"class_name", "config"} of: ${SCHEDULE_CLASS_NAMES.join(", ")}`,
    },
  ];
}

/** Keras optimizer spec → the full parameter set (defaults filled), or issues. */
function optimizerParams(spec: unknown, path: string, issues: Issue[]): OptimizerParams | null {
  const { name, params, namePath, paramsPath } = optimizerParts(spec, path);
  if (isObject(spec) && "class_name" in spec) {
    issues.push(...serializedWrapperIssues(spec, path, "keras.optimizers", "an optimizer"));
    if (spec.config !== undefined && !isObject(spec.config))
      issues.push({ path: `${path}/config`, message: "must be an object" });
  }
  if (!isOptimizerName(name)) {
    const classes = namePath.endsWith("/class_name");
    issues.push({
      path: namePath,
      message: `unsupported optimizer ${JSON.stringify(name)}; supported: ${Object.keys(classes ? OPTIMIZER_CLASSES : OPTIMIZER_DEFAULTS).join(", ")}`,
    });
    return null;
  }
  const defaults = OPTIMIZER_DEFAULTS[name];
  const out: Params = {
    weight_decay: null,
    clipnorm: null,
    clipvalue: null,
    global_clipnorm: null,
    ...defaults,
  };
  let learningRate: number | LearningRateScheduleSpec = defaults.learning_rate as number;
  const before = issues.length;
  for (const [key, value] of Object.entries(params)) {
    const at = `${paramsPath}/${key}`;
    const common =
      !(key in defaults) &&
      (key in OPTIMIZER_REFUSED_ARGS || (OPTIMIZER_COMMON_ARGS as readonly string[]).includes(key));
    if (key === "learning_rate") {
      issues.push(...learningRateIssues(value, at));
      learningRate = value as number | LearningRateScheduleSpec;
    } else if (common) {
      const message = commonArgIssue(key, value);
      if (message) issues.push({ path: at, message });
      else if (key in out) out[key] = value as number | null;
    } else if (!(key in defaults)) {
      issues.push({
        path: at,
        message: `unknown parameter "${key}" for ${name}; supported: ${[...Object.keys(defaults), ...OPTIMIZER_COMMON_ARGS.filter((k) => !(k in defaults))].join(", ")}`,
      });
    } else if (typeof value !== typeof defaults[key]) {
      issues.push({ path: at, message: `must be a ${typeof defaults[key]}` });
    } else if (typeof value === "number" && (!Number.isFinite(value) || value < 0)) {
      issues.push({ path: at, message: "must be a finite number ≥ 0" });
    } else {
      out[key] = value as number | boolean;
    }
  }
  const clips = CLIP_ARGS.filter((key) => out[key] !== null);
  if (clips.length > 1) {
    issues.push({
      path: `${paramsPath}/${clips[1]}`,
      message: `only one of clipnorm, clipvalue and global_clipnorm can be set (Keras raises ValueError); got ${clips.join(" and ")}`,
    });
  }
  if ((name === "sgd" || name === "momentum") && (out.momentum as number) > 1) {
    issues.push({
      path: `${paramsPath}/momentum`,
      message: "must be between 0 and 1 (Keras raises ValueError)",
    });
  }
  if (name === "lion" && ((out.beta_1 as number) <= 0 || (out.beta_1 as number) > 1)) {
    issues.push({
      path: `${paramsPath}/beta_1`,
      message: "must be in (0, 1]; otherwise Lion degenerates to SignSGD (Keras raises ValueError)",
    });
  }
  return issues.length > before ? null : { name, params: out, learningRate };
}

/** Keras's common arguments for a checked optimizer spec, the schedule built. */
function kerasArgs({ params, learningRate }: OptimizerParams): KerasArgs {
  return {
    learningRate: typeof learningRate === "number" ? learningRate : buildLearningRateSchedule(learningRate),
    weight_decay: params.weight_decay as number | null,
    clipnorm: params.clipnorm as number | null,
    clipvalue: params.clipvalue as number | null,
    global_clipnorm: params.global_clipnorm as number | null,
  };
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

const RATE_SETTERS: Readonly<Record<string, string>> = {
  ReduceLROnPlateau: "reduces the learning rate",
  LearningRateScheduler: "sets the learning rate every epoch",
};

/** Paths of a Rule's `set_learning_rate` actions, under `path`. */
function ruleRateSetters(then: unknown, path: string): string[] {
  const actions = Array.isArray(then)
    ? then.map((action, i) => [action, `${path}/${i}`] as const)
    : [[then, path] as const];
  return actions
    .filter(([action]) => isObject(action) && "set_learning_rate" in action)
    .map(([, at]) => `${at}/set_learning_rate`);
}

/**
 * Callbacks that set the learning rate while the optimizer's is a schedule: Keras raises TypeError when
 * they try (BaseOptimizer.learning_rate's setter), so such a job is refused before it runs.
 */
export function scheduleConflicts(spec: { compile?: unknown; callbacks?: unknown }): Issue[] {
  const optimizer = isObject(spec.compile) ? spec.compile.optimizer : undefined;
  const { params, paramsPath } = optimizerParts(optimizer, "/compile/optimizer");
  const rate = params.learning_rate;
  if (!isScheduleSpec(rate) || !Array.isArray(spec.callbacks)) return [];
  const why = `${paramsPath}/learning_rate is a ${rate.class_name} schedule, and Keras refuses to set a schedule-driven rate (TypeError: ${SCHEDULE_NOT_SETTABLE})`;
  return spec.callbacks.flatMap((callback, i): Issue[] => {
    if (!isObject(callback)) return [];
    const does = RATE_SETTERS[callback.type as string];
    if (does) return [{ path: `/callbacks/${i}/type`, message: `${callback.type} ${does}, but ${why}` }];
    if (callback.type !== "Rule") return [];
    return ruleRateSetters(callback.then, `/callbacks/${i}/then`).map((path) => ({
      path,
      message: `set_learning_rate sets the learning rate, but ${why}`,
    }));
  });
}

/** The tfjs optimizer a Keras optimizer spec describes, with Keras defaults for what it leaves out. */
export function buildOptimizer(
  tf: Tf,
  spec: CompileSpec["optimizer"],
  path = "/compile/optimizer",
): Optimizer {
  const issues: Issue[] = [];
  const checked = optimizerParams(spec, path, issues);
  throwIfIssues(issues);
  const optimizer = checked as OptimizerParams;
  const args = kerasArgs(optimizer);
  return kerasOptimizer(tf, RULES[optimizer.name](optimizer.params, !usesKerasArgs(args)), args);
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
