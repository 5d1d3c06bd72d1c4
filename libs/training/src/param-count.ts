import type { ModelSpec } from "@plateau/contract";
import type { Json, JsonObject, TfjsLayer } from "./keras-config";
import { sequentialLayers } from "./model";

type Shape = number[];

const SHAPE_KEYS = ["input_shape", "batch_input_shape"];

/**
 * A layer's parameter count and its output shape (one sample's, without the batch axis), or null when
 * the layer or this use of it is one only building the model can judge.
 */
type Rule = (config: JsonObject, input: Shape) => { params: number; output: Shape } | null;

const SAME_SHAPE: Rule = (_config, input) => ({ params: 0, output: input });

/**
 * Layers whose weights and output shape follow from their config and input shape alone, counted as tfjs
 * counts them (its inputSpec rank checks included: Dense takes any rank, Flatten at least 2 axes).
 */
const RULES: Record<string, Rule> = {
  Dense: (config, input) => {
    const units = config.units;
    if (!isDim(units) || input.length < 1) return null;
    const bias = config.use_bias === false ? 0 : units;
    return { params: input[input.length - 1] * units + bias, output: [...input.slice(0, -1), units] };
  },
  Flatten: (_config, input) =>
    input.length < 2 ? null : { params: 0, output: [input.reduce((a, b) => a * b, 1)] },
  BatchNormalization: (config, input) => {
    // The features axis: the last one (Keras's default) only; any other is left to tfjs.
    if (input.length < 1 || !(config.axis === undefined || config.axis === -1)) return null;
    const weights = 2 + (config.center === false ? 0 : 1) + (config.scale === false ? 0 : 1);
    return { params: weights * input[input.length - 1], output: input };
  },
  Embedding: (config, input) => {
    const { input_dim: vocabulary, output_dim: width, input_length: length } = config;
    if (!isDim(vocabulary) || !isDim(width) || (length !== undefined && length !== null)) return null;
    return { params: vocabulary * width, output: [...input, width] };
  },
  Dropout: SAME_SHAPE,
  Activation: SAME_SHAPE,
  ReLU: SAME_SHAPE,
  LeakyReLU: SAME_SHAPE,
  ELU: SAME_SHAPE,
  Softmax: SAME_SHAPE,
};

/**
 * The parameters of a `layers` model by arithmetic over its configs, exactly what tfjs's countParams
 * gives once built, without tfjs; null when any layer (or the input shape) needs building to tell — a
 * Functional model, a layer not in RULES, an unknown dimension. Call once checkModel finds no issue.
 */
export function countParamsWithoutBuilding(spec: ModelSpec): number | null {
  const layers = sequentialLayers(spec);
  if (layers === null) return null;
  let shape = inputShape(layers[0]);
  let params = 0;
  for (const [i, layer] of layers.entries()) {
    if (i === 0 && layer.class_name === "InputLayer") continue;
    // A shape key on a later layer is one tfjs may act on, and a name may be one used twice (tfjs refuses
    // that, generated names included): building decides.
    if ((i > 0 && shapeKeys(layer).length > 0) || "name" in layer.config) return null;
    const rule = Object.hasOwn(RULES, layer.class_name) ? RULES[layer.class_name] : undefined;
    const counted = shape && rule?.(layer.config, shape);
    if (!counted) return null;
    params += counted.params;
    shape = counted.output;
  }
  return params;
}

/** The keys giving a layer's input shape; Dense's input_dim is one (Embedding's is its vocabulary). */
function shapeKeys({ class_name, config }: TfjsLayer): string[] {
  const keys = class_name === "Dense" ? [...SHAPE_KEYS, "input_dim"] : SHAPE_KEYS;
  return keys.filter((key) => config[key] !== undefined && config[key] !== null);
}

/** The first layer's sample shape when it is given exactly one way and every dimension is known. */
function inputShape(layer: TfjsLayer): Shape | null {
  const keys = shapeKeys(layer);
  const { config } = layer;
  if (keys.length !== 1) return null;
  const given: Json = config[keys[0]];
  const shape =
    keys[0] === "input_dim" ? [given] : keys[0] === "batch_input_shape" ? sliceBatch(given) : given;
  return Array.isArray(shape) && shape.length > 0 && shape.every(isDim) ? (shape as Shape) : null;
}

function sliceBatch(shape: Json): Json {
  return Array.isArray(shape) ? shape.slice(1) : null;
}

function isDim(value: Json | undefined): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}
