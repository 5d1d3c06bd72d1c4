import type { Issue, ModelSpec } from "@plateau/contract";
import type { LayersModel } from "@tensorflow/tfjs";
import type { Tf } from "./backend";
import { registerKerasActivations } from "./keras-activations";
import { isObject, type Json, type JsonObject, type TfjsLayer, toTfjsLayer } from "./keras-config";
import { kerasJsonTopology } from "./keras-json";
import { registerPreprocessingLayers } from "./preprocessing-layers";
import { SpecError, throwIfIssues } from "./spec-error";

const INPUT_SHAPE_KEYS = ["input_shape", "batch_input_shape"];

function layersTopology(layers: unknown, path: string, issues: Issue[]): JsonObject | null {
  if (!Array.isArray(layers) || layers.length === 0) {
    issues.push({ path, message: "must be a non-empty list of {class_name, config} layers" });
    return null;
  }
  const built = layers.map((layer, i) =>
    isObject(layer) ? toTfjsLayer(layer.class_name, layer.config, `${path}/${i}`, issues) : null,
  );
  const first = built[0];
  const hasShape =
    first !== null &&
    (first.class_name === "InputLayer" ||
      INPUT_SHAPE_KEYS.some((key) => key in first.config) ||
      (first.class_name === "Dense" && "input_dim" in first.config));
  if (first !== null && !hasShape) {
    issues.push({
      path: `${path}/0/config/input_shape`,
      message:
        "the first layer needs input_shape (the shape of one sample, e.g. [4]) or use an InputLayer first",
    });
  }
  return {
    class_name: "Sequential",
    config: { name: "sequential", layers: built as unknown as JsonObject[] },
  };
}

function topologyOf(spec: unknown, path: string, issues: Issue[]): JsonObject | null {
  if (isObject(spec) && "layers" in spec && !("keras_json" in spec)) {
    return layersTopology(spec.layers, `${path}/layers`, issues);
  }
  if (isObject(spec) && "keras_json" in spec && !("layers" in spec)) {
    return kerasJsonTopology(spec.keras_json, `${path}/keras_json`, issues);
  }
  issues.push({ path, message: "give exactly one of `layers` or `keras_json`" });
  return null;
}

/** A `layers` spec's layers as tfjs reads them; null for Keras JSON or a spec with issues. */
export function sequentialLayers(spec: ModelSpec): TfjsLayer[] | null {
  if (!isObject(spec) || !("layers" in spec) || "keras_json" in spec) return null;
  const issues: Issue[] = [];
  const topology = layersTopology(spec.layers, "/model/layers", issues);
  return topology && issues.length === 0
    ? (topology.config as unknown as { layers: TfjsLayer[] }).layers
    : null;
}

/**
 * Every problem that stops the model spec from being built, without loading tfjs: unsupported layers,
 * config keys, activations, initializers, and broken Keras JSON. Shape errors only show when building.
 */
export function checkModel(spec: unknown, path = "/model"): Issue[] {
  const issues: Issue[] = [];
  topologyOf(spec, path, issues);
  return issues;
}

/** Builds the model a spec describes, with fresh weights. Throws SpecError on anything it cannot build. */
export async function buildModel(tf: Tf, spec: ModelSpec, path = "/model"): Promise<LayersModel> {
  return fromTopology(tf, topologyFor(spec, path), path);
}

/**
 * How many weights (trainable and not) the model would hold, for the service's size limit, and whether
 * it builds at all. It is built with every initializer replaced by zeros: drawing millions of random
 * initial values is what building costs (about 100 ms → 10 ms for 6 M parameters on the cpu backend).
 */
export async function countModelParams(tf: Tf, spec: ModelSpec, path = "/model"): Promise<number> {
  const model = await fromTopology(tf, withZeroInitializers(topologyFor(spec, path)) as JsonObject, path);
  try {
    return model.countParams();
  } finally {
    model.dispose();
  }
}

function topologyFor(spec: ModelSpec, path: string): JsonObject {
  const issues: Issue[] = [];
  const topology = topologyOf(spec, path, issues);
  throwIfIssues(issues);
  return topology as JsonObject;
}

async function fromTopology(tf: Tf, topology: JsonObject, path: string): Promise<LayersModel> {
  // Keras classes tfjs lacks, which the topology may name.
  registerPreprocessingLayers(tf);
  registerKerasActivations(tf);
  try {
    return await tf.models.modelFromJSON({ modelTopology: topology as never });
  } catch (error) {
    // tfjs's own message names the layer and shapes (e.g. an input of the wrong rank for Conv2D).
    throw new SpecError([{ path, message: `the model cannot be built: ${(error as Error).message}` }]);
  }
}

function withZeroInitializers(value: Json): Json {
  if (Array.isArray(value)) return value.map(withZeroInitializers);
  if (!isObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      key,
      key.endsWith("_initializer") && item !== null
        ? { class_name: "Zeros", config: {} }
        : withZeroInitializers(item),
    ]),
  );
}
