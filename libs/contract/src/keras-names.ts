/**
 * The Keras names a job spec may use, each table written once. `libs/training` maps every name to tfjs
 * with tables typed by these names, so a name listed here without an implementation is a compile error.
 */

export type OptimizerName =
  | "sgd"
  | "momentum"
  | "adam"
  | "adamw"
  | "adamax"
  | "nadam"
  | "lion"
  | "rmsprop"
  | "adagrad"
  | "adadelta";

/**
 * Keras's parameter names and defaults per optimizer (keras/src/optimizers/*.py). `momentum` is not a
 * Keras optimizer: Plateau defines it as SGD with momentum 0.9, tfjs's `tf.train.momentum`.
 */
export const OPTIMIZER_DEFAULTS: Readonly<Record<OptimizerName, Readonly<Record<string, number | boolean>>>> =
  {
    sgd: { learning_rate: 0.01, momentum: 0, nesterov: false },
    momentum: { learning_rate: 0.01, momentum: 0.9, nesterov: false },
    adam: { learning_rate: 0.001, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, amsgrad: false },
    // Keras's AdamW is Adam whose weight_decay defaults to 0.004 and may not be None.
    adamw: {
      learning_rate: 0.001,
      weight_decay: 0.004,
      beta_1: 0.9,
      beta_2: 0.999,
      epsilon: 1e-7,
      amsgrad: false,
    },
    adamax: { learning_rate: 0.001, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 },
    nadam: { learning_rate: 0.001, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 },
    lion: { learning_rate: 0.001, beta_1: 0.9, beta_2: 0.99 },
    rmsprop: { learning_rate: 0.001, rho: 0.9, momentum: 0, epsilon: 1e-7, centered: false },
    adagrad: { learning_rate: 0.001, initial_accumulator_value: 0.1, epsilon: 1e-7 },
    adadelta: { learning_rate: 0.001, rho: 0.95, epsilon: 1e-7 },
  };
export const OPTIMIZER_NAMES = Object.keys(OPTIMIZER_DEFAULTS) as OptimizerName[];

/** Keras optimizer classes (as `keras.optimizers.serialize` names them) → Plateau's optimizer names. */
export const OPTIMIZER_CLASSES = {
  SGD: "sgd",
  Adam: "adam",
  AdamW: "adamw",
  Adamax: "adamax",
  Nadam: "nadam",
  Lion: "lion",
  RMSprop: "rmsprop",
  Adagrad: "adagrad",
  Adadelta: "adadelta",
} as const satisfies Readonly<Record<string, OptimizerName>>;
export type OptimizerClassName = keyof typeof OPTIMIZER_CLASSES;

/**
 * The arguments every Keras 3 optimizer takes (keras/src/optimizers/base_optimizer.py), null meaning off.
 * Only one of the three clip arguments may be set, as in Keras.
 */
export const OPTIMIZER_COMMON_ARGS = ["weight_decay", "clipnorm", "clipvalue", "global_clipnorm"] as const;
export const CLIP_ARGS = ["clipnorm", "clipvalue", "global_clipnorm"] as const;

/**
 * Keras optimizer arguments Plateau accepts only at their Keras default (what `get_config()` writes), with
 * why the feature is not offered; `name` is Keras's config key for the optimizer's own name, free text.
 */
export const OPTIMIZER_REFUSED_ARGS: Readonly<
  Record<string, { only: number | boolean | null; why: string }>
> = {
  use_ema: { only: false, why: "Plateau keeps no moving average of the weights" },
  ema_momentum: { only: 0.99, why: "it only applies with use_ema, which Plateau does not offer" },
  ema_overwrite_frequency: { only: null, why: "it only applies with use_ema, which Plateau does not offer" },
  loss_scale_factor: { only: null, why: "Plateau trains in float32 only, so there is no loss scaling" },
  gradient_accumulation_steps: { only: null, why: "Plateau does not accumulate gradients across batches" },
};

/** Keras loss names and aliases. */
export const LOSS_NAMES = [
  "sparse_categorical_crossentropy",
  "categorical_crossentropy",
  "binary_crossentropy",
  "mean_squared_error",
  "mse",
  "mean_absolute_error",
  "mae",
  "mean_absolute_percentage_error",
  "mape",
  "mean_squared_logarithmic_error",
  "msle",
  "hinge",
  "squared_hinge",
  "categorical_hinge",
  "log_cosh",
  "logcosh",
  "kl_divergence",
  "kullback_leibler_divergence",
  "kld",
  "poisson",
  "cosine_similarity",
  "huber",
] as const;
export type LossName = (typeof LOSS_NAMES)[number];

/**
 * Keras loss classes a spec may give as a serialized object (`{"class_name", "config"}`), with the
 * parameters Plateau implements and Keras's defaults (keras/src/losses/losses.py).
 */
export const LOSS_CLASS_DEFAULTS = {
  SparseCategoricalCrossentropy: { from_logits: false },
  CategoricalCrossentropy: { from_logits: false, label_smoothing: 0 },
  BinaryCrossentropy: { from_logits: false, label_smoothing: 0 },
  Huber: { delta: 1 },
} as const satisfies Readonly<Record<string, Readonly<Record<string, number | boolean>>>>;
export type LossClassName = keyof typeof LOSS_CLASS_DEFAULTS;
export const LOSS_CLASS_NAMES = Object.keys(LOSS_CLASS_DEFAULTS) as LossClassName[];

/**
 * Keys Keras's serialization writes into a loss's config that Plateau accepts only at the values that
 * change nothing (`name` is free: it does not name the logged loss, which is always "loss").
 */
export const LOSS_CONFIG_ONLY_VALUE = {
  reduction: ["sum_over_batch_size"],
  dtype: [null, "float32"],
  axis: [-1],
  ignore_class: [null],
} as const;
export type LossConfigOnlyKey = keyof typeof LOSS_CONFIG_ONLY_VALUE;

/** Which of those keys each loss class has in Keras. */
export const LOSS_CLASS_ONLY_KEYS: Readonly<Record<LossClassName, readonly LossConfigOnlyKey[]>> = {
  SparseCategoricalCrossentropy: ["reduction", "dtype", "ignore_class"],
  CategoricalCrossentropy: ["reduction", "dtype", "axis"],
  BinaryCrossentropy: ["reduction", "dtype", "axis"],
  Huber: ["reduction", "dtype"],
};

/** Keras metric names and aliases. */
export const METRIC_NAMES = [
  "accuracy",
  "acc",
  "binary_accuracy",
  "categorical_accuracy",
  "sparse_categorical_accuracy",
  "precision",
  "recall",
  "mse",
  "mean_squared_error",
  "mae",
  "mean_absolute_error",
  "mape",
  "mean_absolute_percentage_error",
  "binary_crossentropy",
  "categorical_crossentropy",
  "sparse_categorical_crossentropy",
  "r2_score",
  "top_k_categorical_accuracy",
  "auc",
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/** Keras layer classes a model may use. */
export const LAYER_NAMES = [
  "InputLayer",
  "Dense",
  "Dropout",
  "Flatten",
  "Reshape",
  "Activation",
  "Conv1D",
  "Conv2D",
  "SeparableConv2D",
  "MaxPooling1D",
  "AveragePooling1D",
  "MaxPooling2D",
  "AveragePooling2D",
  "GlobalAveragePooling1D",
  "GlobalMaxPooling1D",
  "GlobalAveragePooling2D",
  "GlobalMaxPooling2D",
  "BatchNormalization",
  "LayerNormalization",
  "Embedding",
  "SimpleRNN",
  "LSTM",
  "GRU",
  "Bidirectional",
  "ReLU",
  "LeakyReLU",
  "PReLU",
  "ELU",
  "Softmax",
  "Rescaling",
  "Normalization",
  "Concatenate",
  "Add",
  "Multiply",
  "Average",
  "Maximum",
  "Minimum",
] as const;
export type LayerName = (typeof LAYER_NAMES)[number];

const member =
  <T extends string>(names: readonly T[]) =>
  (name: unknown): name is T =>
    (names as readonly unknown[]).includes(name);
export const isOptimizerName = member(OPTIMIZER_NAMES);
export const isLossName = member(LOSS_NAMES);
export const isMetricName = member(METRIC_NAMES);
export const isLayerName = member(LAYER_NAMES);
export const isLossClassName = member(LOSS_CLASS_NAMES);
