import { type Issue, isLayerName, LAYER_NAMES, type LayerName, pointerToken } from "@plateau/contract";
import {
  ACTIVATIONS,
  BIDIRECTIONAL_LAYERS,
  COMMON_KEYS,
  CONSTRAINTS,
  DTYPES,
  INITIALIZERS,
  LAYER_ALIASES,
  LAYER_RULES,
  MERGE_MODES,
  REFUSED_ACTIVATIONS,
  REGULARIZERS,
} from "./keras-layers";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** A layer as tfjs's Keras-format deserializer reads it. */
export interface TfjsLayer {
  class_name: string;
  config: JsonObject;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Strips Keras serialization wrappers that carry no model meaning for tfjs: Keras 3's `module`,
 * `registered_name` and `build_config` beside every class_name, DTypePolicy objects where tfjs wants a
 * dtype string, Keras 2 metadata's `__tuple__` boxes and Keras 3's `__numpy__` arrays.
 */
function unwrapKeras(value: Json): Json {
  if (Array.isArray(value)) return value.map(unwrapKeras);
  if (!isObject(value)) return value;
  if (value.class_name === "__tuple__" && Array.isArray(value.items)) return value.items.map(unwrapKeras);
  // Keras 3 serializes a NumPy array (a Rescaling scale, say) as its nested list with a dtype.
  if (value.class_name === "__numpy__" && isObject(value.config))
    return unwrapKeras(value.config.value ?? null);
  if ((value.class_name === "DTypePolicy" || value.class_name === "Policy") && isObject(value.config)) {
    return value.config.name ?? null;
  }
  const out: JsonObject = {};
  for (const [key, item] of Object.entries(value)) {
    if (key === "module" || key === "registered_name" || key === "build_config") continue;
    out[key] = unwrapKeras(item);
  }
  return out;
}

/** A Keras object given by name or as {class_name, config}, looked up in `table` (Keras name → tfjs's). */
function lookup(
  kind: string,
  table: Readonly<Record<string, string>>,
  value: Json,
  path: string,
  issues: Issue[],
): { class_name: string; config: JsonObject } | null {
  const name = isObject(value) ? value.class_name : value;
  if (typeof name === "string" && name in table) {
    return { class_name: table[name], config: isObject(value) && isObject(value.config) ? value.config : {} };
  }
  issues.push({
    path,
    message: `unsupported ${kind} ${JSON.stringify(name)}; supported: ${Object.keys(table).join(", ")}`,
  });
  return null;
}

/** tfjs implements only L1L2; Keras's L1 and L2 are that with the other factor at 0 (string forms use 0.01). */
function checkRegularizer(value: Json, path: string, issues: Issue[]): Json {
  if (value === null) return null;
  const name = isObject(value) ? value.class_name : value;
  const config = isObject(value) && isObject(value.config) ? value.config : {};
  const factor = (key: string, fallback: number) =>
    typeof config[key] === "number" ? config[key] : fallback;
  switch (name) {
    case "L1L2":
      return { class_name: "L1L2", config: { l1: factor("l1", 0), l2: factor("l2", 0) } };
    case "l1_l2":
      return { class_name: "L1L2", config: { l1: 0.01, l2: 0.01 } };
    case "L1":
    case "l1":
      return { class_name: "L1L2", config: { l1: factor("l1", 0.01), l2: 0 } };
    case "L2":
    case "l2":
      return { class_name: "L1L2", config: { l1: 0, l2: factor("l2", 0.01) } };
  }
  issues.push({
    path,
    message: `unsupported regularizer ${JSON.stringify(name)}; supported: ${REGULARIZERS.join(", ")}`,
  });
  return value;
}

function checkValue(key: string, value: Json, path: string, issues: Issue[]): Json {
  if (key === "activation" || key === "recurrent_activation") {
    const name = isObject(value) ? value.class_name : value;
    if (typeof name === "string" && Object.hasOwn(REFUSED_ACTIVATIONS, name)) {
      issues.push({
        path,
        message: `unsupported activation ${JSON.stringify(name)}: ${REFUSED_ACTIVATIONS[name]}`,
      });
      return value;
    }
    return lookup("activation", ACTIVATIONS, value, path, issues)?.class_name ?? value;
  }
  if (key.endsWith("_initializer")) return lookup("initializer", INITIALIZERS, value, path, issues) ?? value;
  if (key.endsWith("_regularizer")) return checkRegularizer(value, path, issues);
  if (key.endsWith("_constraint") && value !== null) {
    return lookup("constraint", CONSTRAINTS, value, path, issues) ?? value;
  }
  if (key === "dtype" && !(typeof value === "string" && DTYPES.includes(value))) {
    issues.push({
      path,
      message: `unsupported dtype ${JSON.stringify(value)}; supported: ${DTYPES.join(", ")}`,
    });
  }
  // Keras 2 wrote a one-element axis list where tfjs wants the number.
  if (key === "axis" && Array.isArray(value) && value.length === 1) return value[0];
  return value;
}

function withoutKeys(config: JsonObject, keys: string[]): JsonObject {
  return Object.fromEntries(Object.entries(config).filter(([key]) => !keys.includes(key)));
}

/**
 * Bidirectional's `layer` (an LSTM, GRU or SimpleRNN, checked like any layer) and Keras 3's
 * `backward_layer`, accepted only as the copy of `layer` with go_backwards flipped that tfjs builds itself.
 */
function checkWrapped(source: JsonObject, path: string, issues: Issue[]): Json {
  const inner = (key: string): TfjsLayer | null => {
    const value = source[key];
    const at = `${path}/config/${key}`;
    if (!isObject(value)) {
      issues.push({ path: at, message: "must be a Keras layer {class_name, config}" });
      return null;
    }
    if (!BIDIRECTIONAL_LAYERS.includes(value.class_name as never)) {
      issues.push({
        path: `${at}/class_name`,
        message: `Bidirectional wraps only ${BIDIRECTIONAL_LAYERS.join(", ")} in the training backend, not ${JSON.stringify(value.class_name)}`,
      });
      return null;
    }
    return toTfjsLayer(value.class_name, value.config ?? {}, at, issues);
  };
  const forward = inner("layer");
  if (forward === null || !("backward_layer" in source) || source.backward_layer === null) {
    return forward && { class_name: forward.class_name, config: forward.config };
  }
  const backward = inner("backward_layer");
  if (backward === null) return null;
  const goBackwards = (layer: TfjsLayer) => layer.config.go_backwards === true;
  const same =
    backward.class_name === forward.class_name &&
    goBackwards(backward) !== goBackwards(forward) &&
    sameValue(
      withoutKeys(forward.config, ["name", "go_backwards"]),
      withoutKeys(backward.config, ["name", "go_backwards"]),
    );
  if (!same) {
    issues.push({
      path: `${path}/config/backward_layer`,
      message:
        "a backward_layer other than a copy of layer with go_backwards flipped is not supported by the training backend",
    });
  }
  return { class_name: forward.class_name, config: forward.config };
}

/**
 * Checks one Keras layer (class name + config) against what tfjs can build and returns it in the form
 * tfjs's deserializer reads, recording every problem under `path` (the layer's JSON pointer).
 */
export function toTfjsLayer(
  className: Json,
  rawConfig: Json,
  path: string,
  issues: Issue[],
): TfjsLayer | null {
  // Own properties only: a class name such as "constructor" must not reach Object.prototype.
  const name = typeof className === "string" ? className : null;
  const canonical = name !== null && Object.hasOwn(LAYER_ALIASES, name) ? LAYER_ALIASES[name] : name;
  if (canonical === null || !isLayerName(canonical)) {
    issues.push({
      path: `${path}/class_name`,
      message: `unsupported layer ${JSON.stringify(className)}; supported: ${LAYER_NAMES.join(", ")}`,
    });
    return null;
  }
  if (rawConfig !== undefined && rawConfig !== null && !isObject(rawConfig)) {
    issues.push({ path: `${path}/config`, message: "must be an object of Keras layer arguments" });
    return null;
  }
  const written = unwrapKeras(rawConfig ?? {}) as JsonObject;
  // Keras's ReLU with a negative slope and neither threshold nor max_value is, exactly, tfjs's LeakyReLU.
  const leaky =
    canonical === "ReLU" &&
    typeof written.negative_slope === "number" &&
    written.negative_slope !== 0 &&
    (written.max_value ?? null) === null &&
    (written.threshold ?? 0) === 0;
  const layerName: LayerName = leaky ? "LeakyReLU" : canonical;
  if (leaky) {
    delete written.max_value;
    delete written.threshold;
  }
  const rule = LAYER_RULES[layerName];
  const source: JsonObject = { ...(rule.kerasDefaults as JsonObject), ...written };
  if (layerName === "InputLayer") {
    // Keras 3 names the full shape `batch_shape`; Input(shape=...) users write `shape`.
    if ("batch_shape" in source) source.batch_input_shape = source.batch_shape;
    if ("shape" in source) source.input_shape = source.shape;
    delete source.batch_shape;
    delete source.shape;
  }
  for (const [kerasKey, tfjsKey] of Object.entries(rule.renamed ?? {})) {
    if (!(kerasKey in source)) continue;
    if (tfjsKey in source) {
      issues.push({
        path: `${path}/config/${pointerToken(kerasKey)}`,
        message: `give either "${kerasKey}" or "${tfjsKey}" (its Keras 2 name), not both`,
      });
    }
    source[tfjsKey] = source[kerasKey];
    delete source[kerasKey];
  }
  if (layerName === "Bidirectional") {
    source.layer = checkWrapped(source, path, issues);
    delete source.backward_layer;
    const mode = source.merge_mode;
    if (mode !== null && !(typeof mode === "string" && MERGE_MODES.includes(mode))) {
      issues.push({
        path: `${path}/config/merge_mode`,
        message: `unsupported merge_mode ${JSON.stringify(mode)}; supported: ${MERGE_MODES.join(", ")}, null`,
      });
    }
  }
  const config: JsonObject = {};
  const supported = [...rule.keys, ...COMMON_KEYS];
  for (const [key, value] of Object.entries(source)) {
    const keyPath = `${path}/config/${pointerToken(key)}`;
    if (supported.includes(key)) {
      config[key] = checkValue(key, value, keyPath, issues);
    } else if (rule.unimplemented && key in rule.unimplemented) {
      const only = rule.unimplemented[key];
      if (!sameValue(value, only)) {
        issues.push({
          path: keyPath,
          message:
            key in written
              ? `${layerName} option "${key}" = ${JSON.stringify(value)} is not supported by the training backend; only ${JSON.stringify(only)} is`
              : `${layerName} option "${key}" defaults to ${JSON.stringify(value)} in Keras, which the training backend does not support; set it to ${JSON.stringify(only)}`,
        });
      }
    } else {
      issues.push({
        path: keyPath,
        message: `unsupported config key "${key}" for ${layerName}; supported: ${supported.join(", ")}`,
      });
    }
  }
  for (const { key, message } of rule.check?.(source) ?? []) {
    issues.push({ path: `${path}/config/${pointerToken(key)}`, message });
  }
  return { class_name: layerName, config };
}
