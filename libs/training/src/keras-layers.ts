import type { LayerName } from "@plateau/contract";
import { KERAS_HARD_SIGMOID, KERAS_HARD_SILU } from "./keras-activations";

/**
 * The Keras layers Plateau can build, and for each the Keras config keys tfjs implements. Keys tfjs lacks
 * are accepted only at their Keras default (so a real `model.to_json()` passes), anything else is refused
 * rather than silently ignored: a model must train the way its author wrote it.
 */

interface LayerRule {
  /** Keras config keys (snake_case) tfjs implements for this layer. */
  keys: readonly string[];
  /** Keras keys tfjs does not implement, with the only value accepted (the Keras default). */
  unimplemented?: Readonly<Record<string, unknown>>;
  /**
   * Keras defaults that differ from tfjs's, filled in when a config leaves them out (a layers spec
   * usually does; `to_json()` output always carries them), then checked like written keys.
   */
  kerasDefaults?: Readonly<Record<string, unknown>>;
  /** Keras keys tfjs names differently (Keras name → tfjs's, which must be in `keys`). */
  renamed?: Readonly<Record<string, string>>;
  /** What Keras raises about the values in a config (keys already checked), by key. */
  check?: (config: Readonly<Record<string, unknown>>) => { key: string; message: string }[];
}

/** The most numbers a Normalization's mean (or variance) or a Rescaling's scale may hold: copied every batch. */
export const MAX_NORMALIZATION_VALUES = 100_000;

/** A rectangular nested list of finite numbers (or one number): its shape, or why it is not one. */
function numberArrayShape(value: unknown, depth = 0): number[] | string {
  if (typeof value === "number") return Number.isFinite(value) ? [] : "must hold finite numbers";
  if (!Array.isArray(value) || value.length === 0 || depth > 8) {
    return "must be a number or a non-empty nested list of numbers (at most 8 deep)";
  }
  const shapes = value.map((item) => numberArrayShape(item, depth + 1));
  const problem = shapes.find((shape) => typeof shape === "string");
  if (problem) return problem;
  const first = JSON.stringify(shapes[0]);
  if (shapes.some((shape) => JSON.stringify(shape) !== first))
    return "must be rectangular (every row the same shape)";
  return [value.length, ...(shapes[0] as number[])];
}

/** Keras's Normalization.__init__ checks, and a mean/variance without values, which only adapt() makes. */
function normalizationIssues(config: Readonly<Record<string, unknown>>): { key: string; message: string }[] {
  const { mean = null, variance = null } = config;
  if (mean === null || variance === null) {
    return [
      {
        key: mean === null ? "mean" : "variance",
        message:
          "Normalization needs mean and variance: Keras computes them with adapt() on data before fit, which a job cannot run; give the adapted values (layer.mean and layer.variance after adapt, or your features' mean and variance)",
      },
    ];
  }
  const issues: { key: string; message: string }[] = [];
  const shapes = { mean: numberArrayShape(mean), variance: numberArrayShape(variance) };
  for (const [key, shape] of Object.entries(shapes)) {
    if (typeof shape === "string") issues.push({ key, message: shape });
    else if (shape.reduce((a, b) => a * b, 1) > MAX_NORMALIZATION_VALUES) {
      issues.push({ key, message: `must hold at most ${MAX_NORMALIZATION_VALUES} numbers` });
    }
  }
  if (issues.length === 0 && JSON.stringify(shapes.mean) !== JSON.stringify(shapes.variance)) {
    issues.push({
      key: "variance",
      message: `must have the shape of mean ([${shapes.mean}]), got [${shapes.variance}] (Keras raises ValueError)`,
    });
  }
  if (issues.length === 0 && [variance].flat(8).some((v) => (v as number) < 0)) {
    issues.push({ key: "variance", message: "must be ≥ 0 everywhere (a variance)" });
  }
  const axis = config.axis;
  const axes = axis === null || axis === undefined ? [] : Array.isArray(axis) ? axis : [axis];
  if (!axes.every((a) => Number.isInteger(a)))
    issues.push({ key: "axis", message: "must be an integer, a list of integers or null" });
  else if (typeof shapes.mean !== "string" && shapes.mean.length > axes.length) {
    issues.push({
      key: "mean",
      message: `has ${shapes.mean.length} dimensions, more than the ${axes.length} axes kept (axis ${JSON.stringify(axis)}; Keras raises ValueError)`,
    });
  }
  return issues;
}

/**
 * Rescaling's scale (required, as in Keras) and offset: a number, or an array that broadcasts against the
 * input's last axes as NumPy broadcasts (per channel, say).
 */
function rescalingIssues(config: Readonly<Record<string, unknown>>): { key: string; message: string }[] {
  if (!("scale" in config))
    return [{ key: "scale", message: "is required (Keras's Rescaling has no default)" }];
  return ["scale", "offset"].flatMap((key) => {
    if (!(key in config)) return [];
    const shape = numberArrayShape(config[key]);
    if (typeof shape === "string") return [{ key, message: shape }];
    return shape.reduce((a, b) => a * b, 1) > MAX_NORMALIZATION_VALUES
      ? [{ key, message: `must hold at most ${MAX_NORMALIZATION_VALUES} numbers` }]
      : [];
  });
}

/** Keys every layer accepts: naming, freezing, dtype and the Keras ways to give the input shape. */
export const COMMON_KEYS = ["name", "trainable", "dtype", "input_shape", "batch_input_shape", "batch_size"];

const WEIGHTED = [
  "activation",
  "use_bias",
  "kernel_initializer",
  "bias_initializer",
  "kernel_regularizer",
  "bias_regularizer",
  "activity_regularizer",
  "kernel_constraint",
  "bias_constraint",
];
const CONV = ["filters", "kernel_size", "strides", "padding", "dilation_rate", ...WEIGHTED];
const POOL = ["pool_size", "strides", "padding"];
const RNN = [
  "units",
  "activation",
  "use_bias",
  "kernel_initializer",
  "recurrent_initializer",
  "bias_initializer",
  "kernel_regularizer",
  "recurrent_regularizer",
  "bias_regularizer",
  "activity_regularizer",
  "kernel_constraint",
  "recurrent_constraint",
  "bias_constraint",
  "dropout",
  "recurrent_dropout",
  "return_sequences",
  "return_state",
  "go_backwards",
  "stateful",
  "unroll",
];
const RNN_UNIMPLEMENTED = { time_major: false, zero_output_for_mask: false, seed: null, use_cudnn: "auto" };
const CHANNELS_LAST = { data_format: "channels_last" };
const NO_LORA = { lora_rank: null, lora_alpha: null, quantization_config: null };
const GLOROT = { kernel_initializer: "glorot_uniform" };

export const LAYER_RULES: Readonly<Record<LayerName, LayerRule>> = {
  InputLayer: {
    keys: ["batch_input_shape", "dtype", "sparse", "name"],
    unimplemented: { ragged: false, optional: false },
  },
  Dense: { keys: ["units", "input_dim", ...WEIGHTED], unimplemented: NO_LORA, kerasDefaults: GLOROT },
  Dropout: { keys: ["rate", "noise_shape", "seed"] },
  Flatten: { keys: [], unimplemented: CHANNELS_LAST },
  Reshape: { keys: ["target_shape"] },
  Activation: { keys: ["activation"] },
  Conv1D: {
    keys: CONV,
    unimplemented: { ...CHANNELS_LAST, groups: 1, lora_rank: null },
    kerasDefaults: GLOROT,
  },
  Conv2D: {
    keys: [...CONV, "data_format"],
    unimplemented: { groups: 1, lora_rank: null },
    kerasDefaults: GLOROT,
  },
  SeparableConv2D: {
    keys: [
      "filters",
      "kernel_size",
      "strides",
      "padding",
      "data_format",
      "dilation_rate",
      "activation",
      "use_bias",
      "depthwise_initializer",
      "pointwise_initializer",
      "bias_initializer",
      "depthwise_regularizer",
      "pointwise_regularizer",
      "bias_regularizer",
      "activity_regularizer",
      "depthwise_constraint",
      "pointwise_constraint",
      "bias_constraint",
    ],
    // tfjs 4.22 builds depth_multiplier but leaves it out of the saved config, so a checkpoint of any other
    // value would not load back (its depthwise kernel would not fit).
    unimplemented: { depth_multiplier: 1 },
    kerasDefaults: { depthwise_initializer: "glorot_uniform", pointwise_initializer: "glorot_uniform" },
  },
  MaxPooling1D: { keys: POOL, unimplemented: CHANNELS_LAST },
  AveragePooling1D: { keys: POOL, unimplemented: CHANNELS_LAST },
  MaxPooling2D: { keys: [...POOL, "data_format"] },
  AveragePooling2D: { keys: [...POOL, "data_format"] },
  GlobalAveragePooling1D: { keys: [], unimplemented: { ...CHANNELS_LAST, keepdims: false } },
  GlobalMaxPooling1D: { keys: [], unimplemented: { ...CHANNELS_LAST, keepdims: false } },
  GlobalAveragePooling2D: { keys: ["data_format"], unimplemented: { keepdims: false } },
  GlobalMaxPooling2D: { keys: ["data_format"], unimplemented: { keepdims: false } },
  BatchNormalization: {
    keys: [
      "axis",
      "momentum",
      "epsilon",
      "center",
      "scale",
      "beta_initializer",
      "gamma_initializer",
      "moving_mean_initializer",
      "moving_variance_initializer",
      "beta_regularizer",
      "gamma_regularizer",
      "beta_constraint",
      "gamma_constraint",
    ],
    unimplemented: {
      synchronized: false,
      renorm: false,
      renorm_clipping: null,
      renorm_momentum: 0.99,
      fused: null,
      virtual_batch_size: null,
      adjustment: null,
    },
  },
  LayerNormalization: {
    keys: [
      "axis",
      "epsilon",
      "center",
      "scale",
      "beta_initializer",
      "gamma_initializer",
      "beta_regularizer",
      "gamma_regularizer",
    ],
    unimplemented: { beta_constraint: null, gamma_constraint: null, rms_scaling: false },
  },
  Embedding: {
    keys: [
      "input_dim",
      "output_dim",
      "embeddings_initializer",
      "embeddings_regularizer",
      "activity_regularizer",
      "embeddings_constraint",
      "mask_zero",
      "input_length",
    ],
    unimplemented: { sparse: false, ...NO_LORA },
  },
  SimpleRNN: { keys: RNN, unimplemented: RNN_UNIMPLEMENTED, kerasDefaults: GLOROT },
  LSTM: {
    keys: [...RNN, "recurrent_activation", "unit_forget_bias", "implementation"],
    unimplemented: RNN_UNIMPLEMENTED,
    kerasDefaults: { ...GLOROT, recurrent_activation: "sigmoid", unit_forget_bias: true },
  },
  GRU: {
    keys: [...RNN, "recurrent_activation", "implementation"],
    // tfjs's GRUCell implements only the original (reset before the matrix product) variant.
    unimplemented: { ...RNN_UNIMPLEMENTED, reset_after: false },
    kerasDefaults: { ...GLOROT, recurrent_activation: "sigmoid", reset_after: true },
  },
  // Wraps one LSTM/GRU/SimpleRNN (checked by toTfjsLayer); tfjs runs a copy with go_backwards flipped.
  Bidirectional: { keys: ["layer", "merge_mode"], kerasDefaults: { merge_mode: "concat" } },
  // tfjs's ReLU has only max_value. toTfjsLayer builds a ReLU with only negative_slope as tfjs's LeakyReLU.
  ReLU: { keys: ["max_value"], unimplemented: { negative_slope: 0, threshold: 0 } },
  // Keras 3 names the slope negative_slope, Keras 2 alpha; both default to 0.3, as tfjs does.
  LeakyReLU: { keys: ["alpha"], renamed: { negative_slope: "alpha" } },
  PReLU: { keys: ["alpha_initializer", "alpha_regularizer", "alpha_constraint", "shared_axes"] },
  // tfjs's ELU layer throws on any alpha but 1.
  ELU: { keys: [], unimplemented: { alpha: 1 } },
  // tfjs's Softmax layer defaults to axis 1, Keras's to -1.
  Softmax: { keys: ["axis"], kerasDefaults: { axis: -1 } },
  // Plateau's own layers under Keras's names and keys (preprocessing-layers.ts): tfjs 4.22 has neither.
  Rescaling: { keys: ["scale", "offset"], check: rescalingIssues },
  Normalization: {
    keys: ["axis", "mean", "variance", "invert"],
    kerasDefaults: { axis: -1, mean: null, variance: null },
    check: normalizationIssues,
  },
  Concatenate: { keys: ["axis"] },
  Add: { keys: [] },
  Multiply: { keys: [] },
  Average: { keys: [] },
  Maximum: { keys: [] },
  Minimum: { keys: [] },
};

/** Python aliases a user may write in a layers spec; Keras itself serializes the canonical name. */
export const LAYER_ALIASES: Readonly<Record<string, LayerName>> = {
  MaxPool1D: "MaxPooling1D",
  MaxPool2D: "MaxPooling2D",
  AvgPool1D: "AveragePooling1D",
  AvgPool2D: "AveragePooling2D",
  GlobalAvgPool1D: "GlobalAveragePooling1D",
  GlobalAvgPool2D: "GlobalAveragePooling2D",
  GlobalMaxPool1D: "GlobalMaxPooling1D",
  GlobalMaxPool2D: "GlobalMaxPooling2D",
};

/** The recurrent layers Bidirectional may wrap. */
export const BIDIRECTIONAL_LAYERS: readonly LayerName[] = ["LSTM", "GRU", "SimpleRNN"];
export const MERGE_MODES = ["concat", "sum", "ave", "mul"];

/**
 * Keras activation names → tfjs's. tfjs's gelu is the exact (erf) form, Keras's default
 * (approximate=False); hard_sigmoid and hard_silu/hard_swish are Keras 3's (keras-activations.ts), not
 * tfjs's hard_sigmoid, which is tf.keras 2's 0.2·x + 0.5.
 */
export const ACTIVATIONS: Readonly<Record<string, string>> = {
  linear: "linear",
  relu: "relu",
  relu6: "relu6",
  elu: "elu",
  selu: "selu",
  sigmoid: "sigmoid",
  hard_sigmoid: KERAS_HARD_SIGMOID,
  hard_silu: KERAS_HARD_SILU,
  hard_swish: KERAS_HARD_SILU,
  softplus: "softplus",
  softsign: "softsign",
  tanh: "tanh",
  softmax: "softmax",
  log_softmax: "log_softmax",
  gelu: "gelu",
  mish: "mish",
  swish: "swish",
  silu: "swish",
};

/** Keras activation names tfjs 4.22 has no activation for, and what to write instead. */
export const REFUSED_ACTIVATIONS: Readonly<Record<string, string>> = {
  leaky_relu:
    "tfjs 4.22 has no leaky_relu activation; use a LeakyReLU layer (negative_slope 0.2 is the activation's Keras default)",
  exponential: "tfjs 4.22 has no exponential activation",
};

/** Keras initializer class names (and their string identifiers) → tfjs class names. */
export const INITIALIZERS: Readonly<Record<string, string>> = {
  Zeros: "Zeros",
  Ones: "Ones",
  Constant: "Constant",
  RandomUniform: "RandomUniform",
  RandomNormal: "RandomNormal",
  TruncatedNormal: "TruncatedNormal",
  Identity: "Identity",
  VarianceScaling: "VarianceScaling",
  GlorotUniform: "GlorotUniform",
  GlorotNormal: "GlorotNormal",
  HeNormal: "HeNormal",
  HeUniform: "HeUniform",
  LecunNormal: "LeCunNormal",
  LecunUniform: "LeCunUniform",
  Orthogonal: "Orthogonal",
  zeros: "Zeros",
  ones: "Ones",
  uniform: "RandomUniform",
  random_uniform: "RandomUniform",
  normal: "RandomNormal",
  random_normal: "RandomNormal",
  truncated_normal: "TruncatedNormal",
  identity: "Identity",
  glorot_uniform: "GlorotUniform",
  glorot_normal: "GlorotNormal",
  he_normal: "HeNormal",
  he_uniform: "HeUniform",
  lecun_normal: "LeCunNormal",
  lecun_uniform: "LeCunUniform",
  orthogonal: "Orthogonal",
};

export const CONSTRAINTS: Readonly<Record<string, string>> = {
  MaxNorm: "MaxNorm",
  MinMaxNorm: "MinMaxNorm",
  NonNeg: "NonNeg",
  UnitNorm: "UnitNorm",
  max_norm: "MaxNorm",
  min_max_norm: "MinMaxNorm",
  non_neg: "NonNeg",
  unit_norm: "UnitNorm",
};

/** Keras regularizers; tfjs only has L1L2, so L1 and L2 become L1L2 with the other factor 0. */
export const REGULARIZERS = ["L1L2", "L1", "L2", "l1_l2", "l1", "l2"] as const;

export const DTYPES = ["float32", "int32"];
