import { isObject, type JsonObject, toTfjsLayer } from "./keras-config";
import type { SpecIssue } from "./spec-error";

type TensorRef = [string, number, number, JsonObject];

function isHistory(value: unknown): value is [string, number, number] {
  return (
    Array.isArray(value) &&
    value.length >= 3 &&
    typeof value[0] === "string" &&
    typeof value[1] === "number" &&
    typeof value[2] === "number"
  );
}

/** Every tensor a Keras 3 call's args name, in order (a merge layer's args hold a list of them). */
function keras3Refs(value: unknown, out: TensorRef[]): void {
  if (Array.isArray(value)) {
    for (const item of value) keras3Refs(item, out);
  } else if (isObject(value)) {
    const history = isObject(value.config) ? value.config.keras_history : undefined;
    if (value.class_name === "__keras_tensor__" && isHistory(history)) {
      out.push([history[0], history[1], history[2], {}]);
    } else {
      for (const item of Object.values(value)) keras3Refs(item, out);
    }
  }
}

/**
 * A Keras inbound node in tfjs's (Keras 2) form: a list of `[layer, node, tensor, kwargs]`. Keras 2 writes
 * that already; Keras 3 writes `{"args": [...__keras_tensor__...], "kwargs": {}}`.
 */
function toKeras2Node(node: unknown): TensorRef[] | null {
  if (isObject(node) && "args" in node) {
    const refs: TensorRef[] = [];
    keras3Refs(node.args, refs);
    return refs.length > 0 ? refs : null;
  }
  if (!Array.isArray(node) || !node.every(isHistory)) return null;
  return node.map((ref: unknown[]) => [
    ref[0] as string,
    ref[1] as number,
    ref[2] as number,
    isObject(ref[3]) ? ref[3] : {},
  ]);
}

/** Keras 3 writes a single model input or output as a bare `[layer, node, tensor]`. */
function toRefList(value: unknown): [string, number, number][] | null {
  if (isHistory(value)) return [[value[0], value[1], value[2]]];
  if (Array.isArray(value) && value.every(isHistory)) return value.map((ref) => [ref[0], ref[1], ref[2]]);
  return null;
}

function sequentialTopology(config: unknown, path: string, issues: SpecIssue[]): JsonObject | null {
  // Keras 2.0/2.1 wrote a Sequential's config as the bare layer list.
  const layers = Array.isArray(config) ? config : isObject(config) ? config.layers : undefined;
  const layersPath = Array.isArray(config) ? `${path}/config` : `${path}/config/layers`;
  if (!Array.isArray(layers) || layers.length === 0) {
    issues.push({ path: layersPath, message: "a Sequential model needs a non-empty list of layers" });
    return null;
  }
  const out = layers.map((layer, i) =>
    isObject(layer) ? toTfjsLayer(layer.class_name, layer.config, `${layersPath}/${i}`, issues) : null,
  );
  const name = isObject(config) && typeof config.name === "string" ? config.name : "sequential";
  return { class_name: "Sequential", config: { name, layers: out as unknown as JsonObject[] } };
}

function functionalTopology(config: unknown, path: string, issues: SpecIssue[]): JsonObject | null {
  if (!isObject(config) || !Array.isArray(config.layers)) {
    issues.push({ path: `${path}/config/layers`, message: "a Functional model needs its list of layers" });
    return null;
  }
  const names = new Set<string>();
  const layers: JsonObject[] = [];
  config.layers.forEach((layer, i) => {
    const layerPath = `${path}/config/layers/${i}`;
    if (!isObject(layer)) {
      issues.push({ path: layerPath, message: "must be a layer object" });
      return;
    }
    const name =
      typeof layer.name === "string" ? layer.name : isObject(layer.config) ? layer.config.name : null;
    if (typeof name !== "string") {
      issues.push({ path: `${layerPath}/name`, message: "a Functional model's layer needs a name" });
      return;
    }
    names.add(name);
    const built = toTfjsLayer(layer.class_name, layer.config, layerPath, issues);
    const nodes = Array.isArray(layer.inbound_nodes) ? layer.inbound_nodes : [];
    const inbound = nodes.map((node, n) => {
      const converted = toKeras2Node(node);
      if (converted === null) {
        issues.push({
          path: `${layerPath}/inbound_nodes/${n}`,
          message: "not a Keras 2 or Keras 3 inbound node",
        });
      }
      return converted;
    });
    if (built)
      layers.push({ ...built, name, config: { ...built.config, name }, inbound_nodes: inbound as never });
  });
  // Check references only once every layer name is known: Keras lists layers in call order, but a shared
  // layer may be referenced before its own entry.
  layers.forEach((layer, i) => {
    for (const node of layer.inbound_nodes as unknown as TensorRef[][]) {
      for (const ref of node ?? []) {
        if (!names.has(ref[0])) {
          issues.push({
            path: `${path}/config/layers/${i}/inbound_nodes`,
            message: `unknown layer "${ref[0]}"`,
          });
        }
      }
    }
  });
  const ends: Record<string, [string, number, number][] | null> = {};
  for (const key of ["input_layers", "output_layers"]) {
    ends[key] = toRefList(config[key]);
    if (ends[key] === null) {
      issues.push({
        path: `${path}/config/${key}`,
        message: "must list [layer name, node index, tensor index]",
      });
    } else {
      for (const ref of ends[key]) {
        if (!names.has(ref[0]))
          issues.push({ path: `${path}/config/${key}`, message: `unknown layer "${ref[0]}"` });
      }
    }
  }
  const name = typeof config.name === "string" ? config.name : "model";
  return {
    class_name: "Model",
    config: {
      name,
      layers,
      input_layers: ends.input_layers,
      output_layers: ends.output_layers,
    } as JsonObject,
  };
}

/**
 * Reads the output of Python Keras `model.to_json()` (Keras 2 or 3; Sequential or Functional; as text or
 * parsed) — or a tfjs `model.json` holding one — into the Keras 2 topology tfjs deserializes, recording
 * every problem under `path`.
 */
export function kerasJsonTopology(input: unknown, path: string, issues: SpecIssue[]): JsonObject | null {
  let doc: unknown = input;
  let at = path;
  if (typeof input === "string") {
    try {
      doc = JSON.parse(input);
    } catch (error) {
      issues.push({ path, message: `not valid JSON: ${(error as Error).message}` });
      return null;
    }
  }
  if (isObject(doc) && isObject(doc.modelTopology)) {
    doc = doc.modelTopology;
    at += "/modelTopology";
  }
  if (isObject(doc) && isObject(doc.model_config)) {
    doc = doc.model_config;
    at += "/model_config";
  }
  if (!isObject(doc)) {
    issues.push({ path, message: "must be the JSON (text or object) that Keras model.to_json() returns" });
    return null;
  }
  switch (doc.class_name) {
    case "Sequential":
      return sequentialTopology(doc.config, at, issues);
    case "Functional":
    case "Model":
      return functionalTopology(doc.config, at, issues);
  }
  issues.push({
    path: `${at}/class_name`,
    message: `unsupported model class ${JSON.stringify(doc.class_name)}; supported: Sequential, Functional (a subclassed model has no JSON topology: rebuild it with the Functional API)`,
  });
  return null;
}
